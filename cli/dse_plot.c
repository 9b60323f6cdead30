/* cli/dse_plot.c - `looplynx dse --plot FILE.svg|png`: decode latency
 * against DSP and against BRAM (two panels), every timed design in grey,
 * the Pareto front in blue with its staircase in each projection, the
 * paper's designs as red crosses.  The data and the script go to a
 * temporary folder, gnuplot (Debian gnuplot-nox) draws into a temporary
 * file beside FILE, which is renamed over FILE when gnuplot succeeded. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "dse_out.h"

extern char **environ;

typedef struct tmp {
    char dir[64];
    char path[6][96]; /* all, front, front_dsp, front_bram, paper, script */
    char log[96];
} tmp;

static int write_points(const char *path, const llx_dse_point *p, int n, int label)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < n; i++) {
        fprintf(f, "%.6g %.1f %.1f", p[i].latency_ms, p[i].total[0], p[i].total[3]);
        if (label) fprintf(f, " \"LoopLynx N=%d\"", p[i].paper_nodes);
        fprintf(f, "\n");
    }
    return fclose(f);
}

/* the 2-D staircase of the front's points over resource `res` */
static int write_stairs(const char *path, const llx_dse_point *p, int n, int res)
{
    int *ord = malloc(sizeof *ord * (size_t)(n ? n : 1));
    FILE *f = ord ? fopen(path, "w") : NULL;
    if (!f) {
        free(ord);
        return -1;
    }
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++) /* by resource, then latency */
        for (int j = i; j > 0; j--) {
            const llx_dse_point *a = &p[ord[j - 1]], *b = &p[ord[j]];
            if (a->total[res] < b->total[res] || (a->total[res] == b->total[res] && a->latency_ms <= b->latency_ms)) break;
            int t = ord[j];
            ord[j] = ord[j - 1], ord[j - 1] = t;
        }
    double best = -1;
    for (int i = 0; i < n; i++) {
        const llx_dse_point *q = &p[ord[i]];
        if (best >= 0 && q->latency_ms >= best) continue;
        best = q->latency_ms;
        fprintf(f, "%.1f %.6g\n", q->total[res], q->latency_ms);
    }
    free(ord);
    return fclose(f);
}

/* a gnuplot single-quoted string ('' is a quote) */
static void quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        if (*s != '\n') fputc(*s, f);
    }
    fputc('\'', f);
}

static void panel(FILE *f, const tmp *t, int col, const char *xlabel, int stairs)
{
    fprintf(f, "set xlabel '%s'\nplot ", xlabel);
    quoted(f, t->path[0]);
    fprintf(f, " using %d:1 with points pt 7 ps 0.35 lc rgb '#bdbdbd' title 'timed designs', \\\n  ", col);
    quoted(f, t->path[1]);
    fprintf(f, " using %d:1 with points pt 7 ps 0.8 lc rgb '#1f77b4' title 'Pareto front (latency, DSP, LUT, BRAM)', \\\n  ",
            col);
    quoted(f, t->path[stairs]);
    fprintf(f, " using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'front in this projection', \\\n  ");
    quoted(f, t->path[4]);
    fprintf(f, " using %d:1 with points pt 2 ps 2.5 lw 3 lc rgb '#d62728' title 'the paper''s designs', \\\n  ", col);
    quoted(f, t->path[4]);
    fprintf(f, " using %d:1:4 with labels offset char 1,1.2 left tc rgb '#d62728' notitle\n", col);
}

static int write_script(const dse_report *d, const tmp *t, const char *out, int svg)
{
    FILE *f = fopen(t->path[5], "w");
    if (!f) return -1;
    if (svg) fprintf(f, "set terminal svg size 1500,650 dynamic noenhanced font 'Helvetica,14' background rgb 'white'\n");
    else fprintf(f, "set terminal pngcairo size 1800,780 noenhanced font 'Helvetica,14' background rgb 'white'\n");
    fprintf(f, "set output ");
    quoted(f, out);
    char title[256];
    const llx_sim_workload *w = &d->o->work;
    snprintf(title, sizeof title, "looplynx dse: %s on %s, nodes %d-%d, decode at context %d, cap %.0f%%", d->model,
             d->o->base.plat.name, d->o->nodes_lo, d->o->nodes_hi,
             w->context > 0 ? w->context : w->prompt + (w->gen + 1) / 2, 100 * d->o->cap);
    fprintf(f, "\nset multiplot layout 1,2 title ");
    quoted(f, title);
    double lo = 0, hi = 0;
    for (int i = 0; i < d->r->n_all; i++) {
        double v = d->r->all[i].latency_ms;
        if (lo == 0 || v < lo) lo = v;
        if (v > hi) hi = v;
    }
    for (int i = 0; i < d->r->n_paper; i++) {
        double v = d->r->paper[i].latency_ms;
        if (lo == 0 || v < lo) lo = v;
        if (v > hi) hi = v;
    }
    fprintf(f, " font ',16'\n");
    if (lo > 0) fprintf(f, "set yrange [%g:%g]\n", lo / 1.15, hi * 1.3);
    fprintf(f, "set logscale y\nset grid xtics ytics mytics lc rgb '#e0e0e0'\n"
               "set ylabel 'decode latency (ms per token, log scale)'\nset key top right box opaque\n"
               "set datafile missing '?'\n");
    panel(f, t, 2, "DSP slices (all devices)", 2);
    panel(f, t, 3, "BRAM36 blocks (all devices)", 3);
    fprintf(f, "unset multiplot\n");
    return fclose(f);
}

static int run_gnuplot(const tmp *t, char *err, size_t len)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, t->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {"gnuplot", (char *)t->path[5], NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(err, len, "--plot needs gnuplot (Debian: gnuplot-nox): %s", strerror(rc));
        return -1;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    FILE *f = fopen(t->log, "r");
    char line[200] = "";
    if (f) {
        while (fgets(line, sizeof line, f) && (line[0] == '\n' || line[0] == ' ')) {
        }
        fclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) snprintf(err, len, "--plot needs gnuplot (Debian: gnuplot-nox)");
    else snprintf(err, len, "gnuplot failed: %s", line[0] ? line : "no message");
    return -1;
}

static void clean(tmp *t)
{
    for (int i = 0; i < 6; i++) unlink(t->path[i]);
    unlink(t->log);
    rmdir(t->dir);
}

int dse_plot(const dse_report *d, const char *path)
{
    const llx_dse_result *r = d->r;
    tmp t;
    memset(&t, 0, sizeof t);
    char dir[sizeof t.dir] = "/tmp/looplynx-plot-XXXXXX"; /* apart from t, so gcc sees no overlap */
    if (!mkdtemp(dir)) return cli_runtime_error("--plot: cannot make a temporary folder: %s", strerror(errno));
    memcpy(t.dir, dir, sizeof dir);
    static const char *names[6] = {"all.dat", "front.dat", "front_dsp.dat", "front_bram.dat", "paper.dat", "plot.gp"};
    for (int i = 0; i < 6; i++) snprintf(t.path[i], sizeof t.path[i], "%s/%s", dir, names[i]);
    snprintf(t.log, sizeof t.log, "%s/gnuplot.log", dir);
    size_t n = strlen(path) + 16;
    char *out = malloc(n);
    if (!out) return clean(&t), cli_runtime_error("out of memory");
    snprintf(out, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(out);
    int rc = EXIT_OK;
    char err[300] = "";
    if (fd < 0) {
        rc = cli_runtime_error("--plot: cannot write beside %s: %s", path, strerror(errno));
    } else {
        mode_t um = umask(0);
        umask(um);
        fchmod(fd, 0666 & ~um); /* mkstemp makes it private; the plot is an ordinary file */
        close(fd);
        const int svg = strcmp(strrchr(path, '.'), ".svg") == 0;
        if (write_points(t.path[0], r->all, r->n_all, 0) || write_points(t.path[1], r->front, r->n_front, 0) ||
            write_stairs(t.path[2], r->front, r->n_front, 0) || write_stairs(t.path[3], r->front, r->n_front, 3) ||
            write_points(t.path[4], r->paper, r->n_paper, 1) || write_script(d, &t, out, svg))
            rc = cli_runtime_error("--plot: cannot write the plot's data: %s", strerror(errno));
        else if (run_gnuplot(&t, err, sizeof err))
            rc = cli_runtime_error("%s", err);
        else if (rename(out, path) != 0)
            rc = cli_runtime_error("--plot: cannot rename onto %s: %s", path, strerror(errno));
        if (rc != EXIT_OK) unlink(out);
    }
    free(out);
    clean(&t);
    return rc;
}
