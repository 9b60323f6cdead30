/* cli/main.c - the looplynx command: dispatch to subcommands. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "llx/engine.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"generate", cmd_generate, "generate text from a prompt"},
    {"serve", cmd_serve, "serve the model over HTTP (OpenAI API, continuous batching)"},
    {"serve-bench", cmd_serve_bench, "decode speed of continuous batching at several batch sizes"},
    {"bench", cmd_bench, "measure prefill and decode speed against memory bandwidth"},
    {"quantize", cmd_quantize, "calibrate and quantize a HuggingFace model (.llx: W8A8, W4A8, W4A4)"},
    {"ppl", cmd_ppl, "perplexity of a model on a text"},
    {"tokenize", cmd_tokenize, "text to token ids and back (GPT-2's or a tokenizer.json)"},
    {"info", cmd_info, "validate and describe a model folder or .llx file"},
    {"synth", cmd_synth, "write a random-weight GPT-2 or Llama checkpoint folder"},
    {"sim", cmd_sim, "simulate the LoopLynx FPGA design (latency, resources, energy)"},
    {"dse", cmd_dse, "search the design space on the simulator (Pareto front, plot)"},
    {"fifo", cmd_fifo, "size a stage's FIFOs by linear programming and prove it in the simulator"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: looplynx <command> [options]\n\n"
               "LoopLynx LLM engine (GPT-2, Llama) and accelerator simulator.\n\ncommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'looplynx <command> --help' describes a command's options.\n");
}

/* A rank other than 0 of an MPI run (--backend mpi under mpirun). */
static int secondary_mpi_rank(int argc, char **argv)
{
    int mpi = 0;
    for (int i = 1; i < argc; i++)
        mpi |= !strcmp(argv[i], "--backend=mpi") || (!strcmp(argv[i], "--backend") && i + 1 < argc &&
                                                      !strcmp(argv[i + 1], "mpi"));
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; mpi && i < sizeof vars / sizeof *vars; i++) {
        const char *r = getenv(vars[i]);
        if (r && *r) return strcmp(r, "0") != 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_defer_common_errors(secondary_mpi_rank(argc, argv));
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("looplynx %s (mpi: %s)\n", LLX_VERSION, llx_mpi_built() ? "yes" : "no");
        return EXIT_OK;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    return cli_usage_error("unknown command '%s' (try 'looplynx --help')", argv[1]);
}
