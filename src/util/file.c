/* util/file.c - see file.h. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/status.h"

llx_status llx_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    *out = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return llx_fail(LLX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return llx_fail(LLX_ERR_IO, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return llx_fail(LLX_ERR_FORMAT, "'%s' is too large (%lld bytes, limit %zu)", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return llx_fail(LLX_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return llx_fail(LLX_ERR_IO, "cannot read '%s'", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return LLX_OK;
}

llx_status llx_map_file(const char *path, llx_map *m)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return llx_fail(LLX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return llx_fail(LLX_ERR_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return llx_fail(LLX_ERR_FORMAT, "'%s' is empty", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return llx_fail(LLX_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    m->data = p;
    m->size = (size_t)st.st_size;
    return LLX_OK;
}

void llx_unmap(llx_map *m)
{
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

llx_status llx_atomic_open(llx_atomic_file *a, const char *path)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = malloc(n + 1);
    a->tmp = malloc(n + 32);
    if (!a->path || !a->tmp) {
        llx_atomic_abort(a);
        return llx_fail(LLX_ERR_NOMEM, "out of memory");
    }
    memcpy(a->path, path, n + 1);
    snprintf(a->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        llx_status st = llx_fail(LLX_ERR_IO, "cannot create '%s': %s", a->tmp, strerror(errno));
        free(a->tmp);
        a->tmp = NULL;
        llx_atomic_abort(a);
        return st;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        close(fd);
        llx_atomic_abort(a);
        return llx_fail(LLX_ERR_IO, "cannot open '%s'", path);
    }
    return LLX_OK;
}

llx_status llx_atomic_write(llx_atomic_file *a, const void *buf, size_t n)
{
    if (n && fwrite(buf, 1, n, a->f) != n)
        return llx_fail(LLX_ERR_IO, "cannot write '%s': %s", a->tmp, strerror(errno));
    return LLX_OK;
}

llx_status llx_atomic_commit(llx_atomic_file *a)
{
    int bad = fflush(a->f) != 0 || fsync(fileno(a->f)) != 0;
    int saved = errno;
    bad |= fclose(a->f) != 0;
    a->f = NULL;
    if (bad) {
        llx_status st = llx_fail(LLX_ERR_IO, "cannot write '%s': %s", a->tmp, strerror(saved));
        llx_atomic_abort(a);
        return st;
    }
    if (rename(a->tmp, a->path) != 0) {
        llx_status st = llx_fail(LLX_ERR_IO, "cannot rename '%s' to '%s': %s", a->tmp, a->path,
                                 strerror(errno));
        llx_atomic_abort(a);
        return st;
    }
    free(a->tmp);
    a->tmp = NULL;
    free(a->path);
    a->path = NULL;
    return LLX_OK;
}

void llx_atomic_abort(llx_atomic_file *a)
{
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

llx_status llx_write_file_atomic(const char *path, const void *buf, size_t n)
{
    llx_atomic_file a;
    LLX_TRY(llx_atomic_open(&a, path));
    llx_status st = llx_atomic_write(&a, buf, n);
    if (st != LLX_OK) {
        llx_atomic_abort(&a);
        return st;
    }
    return llx_atomic_commit(&a);
}

char *llx_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int llx_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int llx_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int llx_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
