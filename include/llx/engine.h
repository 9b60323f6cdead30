/* llx/engine.h - the inference engine, sampling, generation, perplexity.
 *
 * Models (llx/model.h) are HuggingFace folders (FP32) or .llx files (W8A8).
 * An engine runs one sequence on a model: N ring nodes (threads in this
 * process, or MPI ranks), each with `threads` worker threads, walking the
 * schedule of llx/schedule.h pass after pass.
 *
 *   llx_model *m;  llx_model_open(&m, "./gpt2-medium");
 *   llx_engine_opts o = llx_engine_defaults();  o.nodes = 2;
 *   llx_engine *e; llx_engine_create(&e, m, &o);
 *   llx_engine_forward(e, ids, n, logits, 0);     // prefill: logits of the last token
 *   llx_engine_forward(e, &next, 1, logits, 0);   // decode one token
 *
 * Results are bit-identical for every node count.  An engine is driven by
 * one thread at a time; different engines may share a model. */
#ifndef LLX_ENGINE_H
#define LLX_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "llx/config.h"
#include "llx/model.h"
#include "llx/schedule.h"
#include "llx/status.h"
#include "llx/tokenizer.h"

/* ---- engine ---- */

typedef enum llx_backend {
    LLX_BACKEND_THREADS = 0, /* nodes are threads of this process */
    LLX_BACKEND_MPI = 1,     /* node i is MPI rank i (run under mpirun) */
} llx_backend;

#define LLX_DEFAULT_CTX 8192

typedef struct llx_engine_opts {
    int nodes;             /* ring size (threads backend); MPI: must equal the world size */
    int threads;           /* worker threads per node */
    llx_precision precision; /* FP32 needs an HF model; W8A8 modes need a .llx model */
    const char *kernels;   /* "auto", "ref" or "avx2" */
    llx_backend backend;
    int max_ctx;           /* KV cache positions (0 = the model's n_ctx, at most LLX_DEFAULT_CTX) */
    int max_batch;         /* tokens per pass; longer prompts run in several passes (0 = 256) */
    int max_seqs;          /* sequences held at once (continuous batching; 0 = 1) */
    int kv_blocks;         /* KV cache pool, in blocks of llx_engine_kv_block() positions shared by all
                            * sequences (0 = enough for max_seqs sequences of max_ctx) */
    int block_rows;        /* MP rows per ring block (0 = automatic: about 1 MiB of weights) */
    int lm_head_int8;      /* W8A8: int8 LM head (default) instead of fp32 */
    double ring_timeout_s; /* a link silent this long fails the run (0 = 60 s) */
} llx_engine_opts;

llx_engine_opts llx_engine_defaults(void);

typedef struct llx_engine llx_engine;

/* Create an engine: plans the ring, and has every node load (and first
 * touch) its own slices of the weights.  With the MPI backend every rank
 * calls this; ranks other than 0 then call llx_engine_serve(). */
llx_status llx_engine_create(llx_engine **out, const llx_model *m, const llx_engine_opts *o);
void llx_engine_free(llx_engine *e); /* accepts NULL; MPI: releases the workers */

/* 1 when this build supports the MPI backend. */
int llx_mpi_built(void);
/* MPI: initialise MPI if needed and report this process's rank and the
 * world size (LLX_ERR_UNSUPPORTED when built without MPI). */
llx_status llx_mpi_world(int *rank, int *size);
/* MPI: end the whole job now (every rank), e.g. after a failure on one. */
void llx_mpi_abort(int code);
/* MPI: shut MPI down at process exit (no-op otherwise). */
void llx_mpi_finalize(void);

/* MPI ranks > 0: execute passes on rank 0's behalf until it frees its engine. */
llx_status llx_engine_serve(llx_engine *e);
/* This process's node index (MPI rank; 0 for the threads backend). */
int llx_engine_rank(const llx_engine *e);

const llx_config *llx_engine_config(const llx_engine *e);

/* Forget the sequence (position back to 0). */
void llx_engine_reset(llx_engine *e);
/* Tokens already in the KV cache. */
int llx_engine_pos(const llx_engine *e);
/* KV capacity (positions). */
int llx_engine_max_ctx(const llx_engine *e);

/* Run n tokens at the current position, append them to the KV cache and
 * write logits: V floats for the last token, or n*V (all_logits) when
 * all_logits != 0.  Fails with LLX_ERR_ARG when the tokens do not fit the
 * context (nothing is run) or a token id is outside the vocabulary. */
llx_status llx_engine_forward(llx_engine *e, const int *tokens, int n, float *logits, int all_logits);

typedef struct llx_engine_stats {
    long long passes;
    long long tokens;
    double ring_exposed_s;   /* ring time the hiding did not cover: per all-gather, the wait of the
                              * node that finished its own rows last (threads backend; MPI: node 0) */
    double ring_wait_s;      /* node 0's total wait in all-gathers (adds imbalance between nodes) */
    long long ring_bytes;    /* payload bytes node 0 sent on its outgoing link */
    long long weight_bytes;  /* weight bytes one decode pass reads (all nodes) */
    const char *kernels;     /* kernel table in use */
} llx_engine_stats;

void llx_engine_get_stats(const llx_engine *e, llx_engine_stats *s);
void llx_engine_clear_stats(llx_engine *e);

/* ---- sequences (continuous batching) ----
 *
 * An engine holds up to llx_engine_max_seqs() sequences at once, each with
 * its own KV cache.  A step runs one or more tokens of several sequences in
 * one pass; each sequence's results are bit-identical to running it alone.
 * llx_engine_forward/reset drive the engine's default sequence and must not
 * be mixed with open sequences. */

/* Sequences the engine can hold at once. */
int llx_engine_max_seqs(const llx_engine *e);
/* Positions per KV block, and the blocks free now. */
int llx_engine_kv_block(void);
int llx_engine_kv_free(const llx_engine *e);
/* Open a sequence that will hold up to `positions` tokens; *seq gets its
 * id.  LLX_ERR_BUSY when no sequence slot or KV room is free now (close
 * one and retry); LLX_ERR_ARG when `positions` can never fit. */
llx_status llx_seq_open(llx_engine *e, int positions, int *seq);
void llx_seq_close(llx_engine *e, int seq);
/* Tokens already in the sequence's KV cache. */
int llx_seq_pos(const llx_engine *e, int seq);

typedef struct llx_seq_tokens {
    int seq;            /* an open sequence, at most once per step */
    const int *tokens;  /* appended at the sequence's position */
    int n;              /* >= 1 */
} llx_seq_tokens;

/* One step: every item's tokens, and into logits[i * n_vocab] the logits
 * of item i's last token.  Nothing runs when an item is invalid. */
llx_status llx_engine_step(llx_engine *e, const llx_seq_tokens *items, int n_items, float *logits);

/* ---- sampling ---- */

typedef struct llx_sampler_opts {
    int greedy;        /* argmax (ties -> lowest id); ignores the rest */
    float temperature; /* > 0 */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t seed;
} llx_sampler_opts;

typedef struct llx_sampler llx_sampler;

llx_status llx_sampler_create(llx_sampler **out, const llx_sampler_opts *o, int vocab);
void llx_sampler_free(llx_sampler *s);
/* Pick a token from n_vocab logits (not modified). */
int llx_sample(llx_sampler *s, const float *logits);

/* ---- generation ---- */

/* Called for every generated token with the bytes that are now safe to
 * print (whole UTF-8 characters only).  Return non-zero to stop. */
typedef int (*llx_token_cb)(void *ud, int token, const char *text, size_t len);

/* Optional observers of a generation (any may be NULL). */
typedef struct llx_gen_hooks {
    llx_token_cb on_token;
    /* the logits each generated token was sampled from */
    void (*on_logits)(void *ud, const float *logits, int n_vocab);
    void *ud;
} llx_gen_hooks;

typedef struct llx_generation {
    int *tokens;        /* generated ids (free with free()) */
    int n_tokens;
    double prefill_s;   /* wall time of the prompt passes */
    double decode_s;    /* wall time of the decode passes (and sampling) */
    int decode_passes;  /* forward passes after the prompt (n_tokens - 1) */
    int stopped_eot;    /* ended at <|endoftext|> */
    int stopped_length; /* ended at the context limit before n_gen tokens */
} llx_generation;

/* Prefill `prompt`, then sample up to n_gen tokens, stopping early at the
 * end-of-text token or when the context is full (stopped_length: the KV
 * cache holds prompt + k - 1 positions for k tokens).  Fails before running
 * anything when the prompt is empty or does not fit the context. */
llx_status llx_generate(llx_engine *e, const llx_tokenizer *tok, const int *prompt, int n_prompt, int n_gen,
                        llx_sampler *s, const llx_gen_hooks *hooks, llx_generation *out);
void llx_generation_free(llx_generation *g);

/* ---- perplexity ---- */

/* Progress: phase name and fraction done in [0, 1]. */
typedef void (*llx_progress_cb)(void *ud, const char *phase, double frac);

typedef struct llx_ppl_result {
    double nll;       /* mean negative log-likelihood (nats) */
    double ppl;       /* exp(nll) */
    long predictions; /* tokens predicted */
    int windows;
} llx_ppl_result;

/* Perplexity over non-overlapping windows of `ctx` tokens: each window is
 * run from position 0 with an empty cache and predicts its tokens 1..ctx-1
 * (the golden NLL rule).  Only whole windows count; fails when n < ctx. */
llx_status llx_perplexity(llx_engine *e, const int *ids, int n, int ctx, llx_progress_cb cb, void *ud,
                          llx_ppl_result *out);

#endif
