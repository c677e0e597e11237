/* scratchnet: train, evaluate and run neural networks from the command line. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet VERB [options]\n"
    "\n"
    "verbs:\n"
    "  train SPEC --data DIR|FILE.csv   train a model described by a spec file\n"
    "  train SPEC --text FILE.txt       train a text model (char, byte or word level)\n"
    "  generate MODEL [--prime TEXT]    sample text from a trained text model\n"
    "  eval MODEL --data DIR|FILE.csv   loss and accuracy of saved weights on the test set\n"
    "  predict MODEL IMAGES             class and probability per image (IDX or CSV)\n"
    "  report RUN_DIR                   write RUN_DIR/report.html (charts, metrics, mistakes)\n"
    "  plot FILE.csv -o FILE.svg        one chart of history.csv columns\n"
    "  summary SPEC|MODEL               layers, output shapes and parameter counts\n"
    "  sweep SWEEP_FILE                 train a grid of configurations and compare them\n"
    "  gradcheck SPEC                   check every layer's gradients by finite differences\n"
    "  train --resume RUN_DIR           continue a run from its checkpoint\n"
    "  checkpoint RUN_DIR               check a run's checkpoint and say where it stands\n"
    "\n"
    "'scratchnet VERB --help' describes each verb's options.\n";

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "train") == 0)
        return cli_wants_text(argc, argv) ? cmd_train_text(argc - 1, argv + 1)
                                          : cmd_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "predict") == 0) return cmd_predict(argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0) return cmd_report(argc - 1, argv + 1);
    if (strcmp(argv[1], "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(argv[1], "summary") == 0) return cmd_summary(argc - 1, argv + 1);
    if (strcmp(argv[1], "sweep") == 0) return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(argv[1], "gradcheck") == 0) return cmd_gradcheck(argc - 1, argv + 1);
    if (strcmp(argv[1], "checkpoint") == 0) return cmd_checkpoint(argc - 1, argv + 1);
    fprintf(stderr, "scratchnet: unknown verb '%s'\n\n%s", argv[1], usage);
    return EXIT_USAGE;
}
