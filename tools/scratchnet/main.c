/* scratchnet: train, evaluate and run neural networks from the command line.
 * Also prints its own manual page (--help-man) and shell completions
 * (--completion bash|zsh), made from the same help texts and option lists
 * as --help, so that they cannot disagree. */
#include "cli.h"
#include "sn_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct verb {
    const char *name, *args, *what;
    int (*run)(cli_opts *o); /* NULL: train, which parses its own options */
    const cli_verb *v;
} verb;

static const verb verbs[] = {
    {"train", "SPEC --data DIR|FILE.csv", "train a model described by a spec file", NULL,
     &cli_verb_train},
    {"train", "SPEC --text FILE.txt", "train a text model (char, byte or word level)", NULL,
     &cli_verb_train_text},
    {"train", "--resume RUN_DIR", "continue a run from its checkpoint", NULL, NULL},
    {"generate", "MODEL [--prime TEXT]", "sample text from a trained text model", cmd_generate,
     &cli_verb_generate},
    {"eval", "MODEL --data DIR|FILE.csv", "loss and accuracy of saved weights on the test set",
     cmd_eval, &cli_verb_eval},
    {"predict", "MODEL INPUT...", "class and probabilities per sample (IDX, CSV, PNG, PGM)",
     cmd_predict, &cli_verb_predict},
    {"report", "RUN_DIR", "write RUN_DIR/report.html (charts, metrics, mistakes)", cmd_report,
     &cli_verb_report},
    {"plot", "FILE.csv [-o FILE.svg]", "one chart of history.csv columns", cmd_plot,
     &cli_verb_plot},
    {"summary", "SPEC|MODEL|RUN_DIR", "layers, output shapes and parameter counts", cmd_summary,
     &cli_verb_summary},
    {"sweep", "SWEEP_FILE", "train a grid of configurations and compare them", cmd_sweep,
     &cli_verb_sweep},
    {"gradcheck", "SPEC", "check every layer's gradients by finite differences", cmd_gradcheck,
     &cli_verb_gradcheck},
    {"checkpoint", "RUN_DIR", "check a run's checkpoint and say where it stands", cmd_checkpoint,
     &cli_verb_checkpoint},
    {"import-weights", "SPEC W.safetensors -o MODEL", "a model file from PyTorch weights",
     cmd_import_weights, &cli_verb_import_weights},
};
#define NVERBS (int)(sizeof verbs / sizeof verbs[0])

/* 1 for the first row of a verb (train has three). */
static int first(int i) {
    return i == 0 || strcmp(verbs[i - 1].name, verbs[i].name) != 0;
}

static void usage(FILE *f) {
    fputs("usage: scratchnet VERB [options]\n       scratchnet --version\n\nverbs:\n", f);
    for (int i = 0; i < NVERBS; i++) {
        char head[80];
        snprintf(head, sizeof head, "%s %s", verbs[i].name, verbs[i].args);
        fprintf(f, "  %-34s %s\n", head, verbs[i].what);
    }
    fputs("\n'scratchnet VERB --help' describes each verb's options.\n", f);
}

static void version(void) {
    printf("scratchnet %s", SN_VERSION);
    if (SN_GIT_COMMIT[0]) printf(" (commit %s)", SN_GIT_COMMIT);
    printf("\n");
}

/* Text as roff: backslashes escaped, lines that start with . or ' guarded. */
static void roff(const char *text) {
    int bol = 1;
    for (const char *p = text; *p; p++) {
        if (bol && (*p == '.' || *p == '\'')) fputs("\\&", stdout);
        if (*p == '\\')
            fputs("\\e", stdout);
        else if (*p == '-')
            fputs("\\-", stdout);
        else
            putchar(*p);
        bol = *p == '\n';
    }
}

static void man_page(void) {
    printf(".TH SCRATCHNET 1 \"\" \"scratchnet %s\" \"User Commands\"\n", SN_VERSION);
    puts(".SH NAME\nscratchnet \\- train, evaluate and run neural networks from the command line");
    puts(".SH SYNOPSIS\n.nf");
    for (int i = 0; i < NVERBS; i++) {
        printf("\\fBscratchnet %s\\fR ", verbs[i].name);
        roff(verbs[i].args);
        puts(" [options]");
    }
    puts("\\fBscratchnet \\-\\-version\\fR\n.fi\n.SH DESCRIPTION");
    puts("A neural-network library written from scratch in C, driven from the command line.\n"
         "Each verb below is described by the same text that \\fBscratchnet VERB \\-\\-help\\fR "
         "prints.\nOptions take their value as \\fB\\-\\-opt value\\fR or "
         "\\fB\\-\\-opt=value\\fR.");
    puts(".SH VERBS");
    for (int i = 0; i < NVERBS; i++) {
        if (!first(i)) continue;
        printf(".SS %s\n.nf\n", verbs[i].name);
        roff(verbs[i].v->usage);
        puts(".fi");
    }
    puts(".SH EXIT STATUS\n0 success, 1 runtime error, 2 usage error, 130 interrupted (Ctrl\\-C).");
    puts(".SH SEE ALSO\nREADME.md and docs/ of the scratchnet sources.");
}

/* The options of every entry named like verbs[i], space-separated. */
static void verb_options(int i) {
    for (int j = 0; j < NVERBS; j++) {
        if (strcmp(verbs[j].name, verbs[i].name) != 0 || !verbs[j].v) continue;
        for (int k = 0; verbs[j].v->opts[k]; k++) {
            int seen = 0; /* train's table and text options overlap */
            for (int jj = 0; jj < j && !seen; jj++)
                for (int kk = 0; verbs[jj].v && strcmp(verbs[jj].name, verbs[i].name) == 0 &&
                                 verbs[jj].v->opts[kk];
                     kk++)
                    seen |= strcmp(verbs[jj].v->opts[kk], verbs[j].v->opts[k]) == 0;
            if (!seen) printf(" %s", verbs[j].v->opts[k]);
        }
    }
    printf(" --help");
}

static int completion(const char *shell) {
    int bash = strcmp(shell, "bash") == 0;
    if (!bash && strcmp(shell, "zsh") != 0) {
        fprintf(stderr, "scratchnet: --completion: expected bash or zsh\n");
        return EXIT_USAGE;
    }
    if (bash)
        puts("# bash completion for scratchnet (made by 'scratchnet --completion bash')\n"
             "_scratchnet() {\n"
             "    local cur=${COMP_WORDS[COMP_CWORD]} opts\n"
             "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
             "        COMPREPLY=($(compgen -W \"$(_scratchnet_verbs) --help --version\" -- "
             "\"$cur\"))\n"
             "        return\n"
             "    fi\n"
             "    case ${COMP_WORDS[1]} in");
    else
        puts("#compdef scratchnet\n# zsh completion for scratchnet (made by 'scratchnet "
             "--completion zsh')\n"
             "_scratchnet() {\n"
             "    local -a opts\n"
             "    if (( CURRENT == 2 )); then\n"
             "        compadd -- $(_scratchnet_verbs) --help --version\n"
             "        return\n"
             "    fi\n"
             "    case $words[2] in");
    for (int i = 0; i < NVERBS; i++) {
        if (!first(i)) continue;
        printf("    %s) opts=%s", verbs[i].name, bash ? "\"" : "(");
        verb_options(i);
        printf("%s ;;\n", bash ? "\"" : ")");
    }
    if (bash)
        puts("    esac\n"
             "    if [[ $cur == -* ]]; then\n"
             "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
             "    else\n"
             "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
             "    fi\n"
             "}");
    else
        puts("    esac\n"
             "    if [[ $PREFIX == -* ]]; then compadd -- $opts; else _files; fi\n"
             "}");
    printf("_scratchnet_verbs() { echo");
    for (int i = 0; i < NVERBS; i++)
        if (first(i)) printf(" %s", verbs[i].name);
    puts("; }");
    puts(bash ? "complete -o filenames -F _scratchnet scratchnet" : "_scratchnet \"$@\"");
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        version();
        return 0;
    }
    if (strcmp(argv[1], "--help-man") == 0) {
        man_page();
        return 0;
    }
    if (strcmp(argv[1], "--completion") == 0) return completion(argc > 2 ? argv[2] : "");
    char **args = cli_normalize_args(argc, argv);
    if (!args) {
        fprintf(stderr, "scratchnet: out of memory\n");
        return EXIT_RUNTIME;
    }
    int n = 0, rc = -1;
    while (args[n]) n++;
    cli_command_line(argc, argv);
    if (strcmp(args[1], "train") == 0)
        rc = cli_wants_text(n, args) ? cmd_train_text(n - 1, args + 1) : cmd_train(n - 1, args + 1);
    for (int i = 0; rc < 0 && i < NVERBS; i++) {
        cli_opts o;
        if (verbs[i].run && strcmp(args[1], verbs[i].name) == 0)
            rc = (rc = cli_parse(n - 1, args + 1, verbs[i].v, &o)) ? (rc < 0 ? 0 : rc)
                                                                   : verbs[i].run(&o);
    }
    if (rc < 0) {
        const char *best = NULL;
        int bd = 99;
        for (int i = 0; i < NVERBS; i++) {
            int d = cli_distance(args[1], verbs[i].name);
            if (d < bd) bd = d, best = verbs[i].name;
        }
        if (best && bd <= 2 && bd < (int)strlen(args[1]))
            fprintf(stderr, "scratchnet: unknown verb '%s'; did you mean '%s'?\n", args[1], best);
        else
            fprintf(stderr, "scratchnet: unknown verb '%s'\n", args[1]);
        fprintf(stderr, "see 'scratchnet --help'\n");
        rc = EXIT_USAGE;
    }
    free(args);
    return rc;
}

/* Under mpirun (an MPI build) every rank runs the verb; when one fails, the
 * job ends on every rank with its status (docs/distributed.md), unless the
 * ranks stopped together (a signal): then each exits with that status. */
int main(int argc, char **argv) {
    sn_error err = {0};
    if (sn_dist_init(&argc, &argv, &err) != SN_OK) {
        fprintf(stderr, "scratchnet: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    int rc = run(argc, argv);
    if (rc != 0 && !sn_dist_stopped_together()) sn_dist_abort(rc);
    sn_dist_finalize();
    return rc;
}
