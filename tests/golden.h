/* tests/golden.h - checks against PyTorch goldens in the layout of
 * golden/README.md (prompts.json with last-position logits and greedy
 * continuations, nll.json, tokenizer_cases.json), shared by the tests of the
 * model shipped in tests/models/mini-shakespeare (always) and of the shared
 * shakespeare-gpt2 (when ../shared has it). */
#ifndef LLX_TESTS_GOLDEN_H
#define LLX_TESTS_GOLDEN_H

#include <jansson.h>

#include "llx/engine.h"
#include "llx/model.h"
#include "llx/tokenizer.h"

/* The reference model in the repository (tests/models/mini-shakespeare) and
 * its golden folder.  Never NULL: the files are part of the checkout. */
const char *golden_repo_model(void);
const char *golden_repo_dir(void);

/* dir/name parsed (a failed CHECK and NULL when unreadable). */
json_t *golden_load(const char *dir, const char *name);
/* A JSON array of integers as a new int array (*n gets its length). */
int *golden_ids(const json_t *arr, int *n);

/* Every {"text", "ids"} of cases tokenizes to exactly ids and decodes back
 * to text; returns the number checked. */
int golden_check_tokenizer(const llx_tokenizer *t, const json_t *cases, const char *what);

typedef struct golden_run {
    int nodes, threads;
    const char *kernels;  /* "auto", "ref", ... */
    double logit_tol;     /* max |logit - golden| at the last prompt position */
} golden_run;

/* For every prompt of dir/prompts.json on model (a folder, fp32): the token
 * ids, the last-position logits within r->logit_tol, the top 5, and the
 * greedy continuation decoded with the KV cache (exact ids; at a step whose
 * golden top-1/top-2 margin is below 1e-3 float32 may legitimately pick the
 * other token, which then ends the comparison for that prompt).
 * Returns the worst logit difference seen. */
double golden_check_prompts(const char *model, const char *dir, const golden_run *r);

/* A model's own precision: fp32 for a folder, the .llx file's W8A8 mode. */
llx_precision golden_precision(const llx_model *m);

/* Mean NLL of model (folder or .llx, its own precision) over the golden
 * token ids of dir/nll.json, windows of nll.json's "window"; -1 on failure. */
double golden_nll(const char *model, const char *dir, int nodes, int threads);

#endif
