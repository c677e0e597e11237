/* Memory budgets: sn_model_memory's figure for a convolutional, a recurrent
 * and a dense model is what sn_model_reserve and sn_optimizer_new then take
 * (measured with glibc's mallinfo2, within 2 % + 256 KiB); a model over the
 * limit is refused before anything is allocated, with the figure in the
 * message; the default limit is the memory available. */
#define _GNU_SOURCE
#include "check.h"
#include "model/model.h"
#include "optim/optim.h"

#include <malloc.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define NO_MALLINFO 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MALLINFO 1
#endif
#endif

static size_t in_use(void) {
#ifdef NO_MALLINFO
    return 0; /* AddressSanitizer keeps its own books */
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

static void check_spec(const char *name, const char *spec, int rows) {
    sn_error err = {0};
    sn_model *m = NULL;
    CHECK(sn_model_from_spec(spec, name, 1, &m, &err) == SN_OK);
    if (!m) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return;
    }
    sn_memory mem;
    sn_model_memory(m, rows, &mem);
    CHECK(mem.total == mem.params + mem.grads + mem.optimizer + mem.activations + mem.scratch);
    CHECK(mem.params > 0 && mem.grads == mem.params && mem.activations > 0);

    /* over the limit: refused, and nothing taken */
    sn_set_memory_limit(mem.total - 1);
    size_t before = in_use();
    CHECK(sn_model_reserve(m, rows, &err) == SN_ERR_NOMEM);
    char fig[32];
    sn_format_bytes(mem.total, fig, sizeof fig);
    CHECK(strstr(err.msg, fig) != NULL && strstr(err.msg, "--max-memory") != NULL);
    CHECK(in_use() - before < 4096);

    /* within it: what is taken is what was said */
    sn_set_memory_limit(mem.total);
    before = in_use();
    sn_optimizer *o = NULL;
    CHECK(sn_model_reserve(m, rows, &err) == SN_OK);
    CHECK(sn_optimizer_new(m, &m->cfg, &o, &err) == SN_OK);
    size_t taken = in_use() - before, said = mem.total - mem.params - mem.grads;
#ifndef NO_MALLINFO
    double off = (double)taken - (double)said;
    int close = off > -(double)said * 0.02 - 262144 && off < (double)said * 0.02 + 262144;
    if (!close) fprintf(stderr, "%s: took %zu bytes, the budget said %zu\n", name, taken, said);
    CHECK(close);
#else
    (void)taken, (void)said;
#endif
    sn_optimizer_free(o);
    sn_model_free(m);
    sn_set_memory_limit(0);
}

int main(void) {
    sn_set_threads(2);
    check_spec("conv",
               "input 3x32x32\nconv2d 16 5x5 pad=same\nrelu\nmaxpool 2\n"
               "conv2d 32 3x3\nbatchnorm\nrelu\nflatten\ndense 10\nloss softmax_xent\n"
               "[train]\noptimizer adam lr=1e-3\nbatch 64\n",
               64);
    /* the im2col buffer dominates: a tall kernel over a narrow image */
    check_spec("im2col",
               "input 1x871x11\nconv2d 2 36x92 pad=same stride=2x1\nrelu\nflatten\n"
               "dense 10\nloss softmax_xent\n[train]\nbatch 2\n",
               2);
    check_spec("lstm",
               "input 1\nembedding 80 32\nlstm 128 layers=2 dropout=0.1\ndense 80\n"
               "loss softmax_xent\n[train]\noptimizer rmsprop lr=1e-3 momentum=0.9 centered=1\n"
               "batch 16\n",
               50 * 16);
    check_spec("mlp",
               "input 784\ndense 512\nrelu\ndropout 0.2\ndense 10\nloss softmax_xent\n"
               "[train]\noptimizer sgd lr=0.1 momentum=0.9\nbatch 128\n",
               128);

    /* the default: the memory available, far below the 4 TiB this model needs for a batch of 512 */
    sn_error err = {0};
    sn_model *m = NULL;
    CHECK(sn_model_from_spec(
              "input 1x4096x4096\nconv2d 64 3x3 pad=same\nglobal_avgpool\nflatten\ndense 2\n"
              "loss softmax_xent\n",
              "huge", 1, &m, &err) == SN_OK);
    CHECK(sn_memory_limit() > 0);
    if (m) {
        CHECK(sn_model_reserve(m, 512, &err) == SN_ERR_NOMEM);
        CHECK(strstr(err.msg, "of memory available") != NULL);
    }
    sn_model_free(m);
    return check_report();
}
