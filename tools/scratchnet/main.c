/* scratchnet: train, evaluate and run neural networks from the command line. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet VERB [options]\n"
    "\n"
    "verbs:\n"
    "  train SPEC --data DIR|FILE.csv   train a model described by a spec file\n"
    "  eval MODEL --data DIR|FILE.csv   loss and accuracy of saved weights on the test set\n"
    "  predict MODEL IMAGES             class and probability per image (IDX or CSV)\n"
    "\n"
    "'scratchnet VERB --help' describes each verb's options.\n";

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "predict") == 0) return cmd_predict(argc - 1, argv + 1);
    fprintf(stderr, "scratchnet: unknown verb '%s'\n\n%s", argv[1], usage);
    return EXIT_USAGE;
}
