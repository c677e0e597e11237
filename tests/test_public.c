/* Public functions the CLI's verbs use beyond models and training, through
 * include/scratchnet.h alone. */
#include "check.h"
#include "scratchnet.h"

/* sn_spec_has_vocab: the whole word only. */
static void test_spec_has_vocab(void) {
    CHECK(sn_spec_has_vocab("input 1\nembedding vocab 64\nlstm 8\ndense vocab\n") == 1);
    CHECK(sn_spec_has_vocab("vocab") == 1);
    CHECK(sn_spec_has_vocab("input 1\ndense 4 # vocab\n") == 1); /* comments count */
    CHECK(sn_spec_has_vocab("input 4\ndense 4\nloss mse\n") == 0);
    CHECK(sn_spec_has_vocab("input 4\ndense vocabulary\n") == 0);
    CHECK(sn_spec_has_vocab("input 4\nmy_vocab 3\n") == 0);
    CHECK(sn_spec_has_vocab("input 4\ndense 3 vocab=2\n") == 0);
}

int main(void) {
    test_spec_has_vocab();
    return check_report();
}
