/* Directories and symlinks: mkdir, nested paths, readdir (sorted here),
 * rename, unlink, rmdir, symlink, readlink, lstat. usage: dirs DIR */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *label, const char *path) {
    DIR *dir = opendir(path);
    if (!dir) { printf("%s: opendir ERR errno=%d (%s)\n", label, errno, strerror(errno)); return; }
    static char *names[1024];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 1024) {
        char t = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?';
        char *s = malloc(strlen(e->d_name) + 3);
        sprintf(s, "%s:%c", e->d_name, t);
        names[n++] = s;
    }
    closedir(dir);
    qsort(names, n, sizeof names[0], cmp);
    printf("%s: %d entries:", label, n);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

static void kind(const char *label, const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) { printf("%s: lstat ERR errno=%d (%s)\n", label, errno, strerror(errno)); return; }
    const char *k = S_ISLNK(st.st_mode) ? "symlink" : S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other";
    printf("%s: lstat %s", label, k);
    if (S_ISREG(st.st_mode)) printf(" size=%lld", (long long)st.st_size);
    if (stat(path, &st) < 0) printf(", stat ERR errno=%d (%s)\n", errno, strerror(errno));
    else printf(", stat %s size=%lld\n", S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other",
                S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
}

static void put(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { printf("put %s: ERR errno=%d (%s)\n", path, errno, strerror(errno)); return; }
    write(fd, s, strlen(s));
    close(fd);
}

static void cat(const char *label, const char *path) {
    char buf[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: open ERR errno=%d (%s)\n", label, errno, strerror(errno)); return; }
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) n = 0;
    buf[n] = 0;
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
    printf("%s: [%s]\n", label, buf);
}

int main(int argc, char **argv) {
    const char *d = argc > 1 ? argv[1] : ".";
    list("initial", d);

    report("mkdir d1", mkdir(P(d, "d1"), 0755));
    report("mkdir d1 again", mkdir(P(d, "d1"), 0755));
    report("mkdir d1/d2", mkdir(P(d, "d1/d2"), 0755));
    report("mkdir d1/d2/d3", mkdir(P(d, "d1/d2/d3"), 0755));
    report("mkdir missing/parent", mkdir(P(d, "missing/parent"), 0755));
    put(P(d, "d1/d2/d3/deep.txt"), "deep file\n");
    put(P(d, "d1/one.txt"), "one\n");
    put(P(d, "d1/two.txt"), "two\n");
    put(P(d, "top.txt"), "top\n");
    cat("read nested", P(d, "d1/d2/d3/deep.txt"));
    cat("read via ..", P(d, "d1/d2/../one.txt"));
    cat("read via .", P(d, "d1/./d2/./d3/deep.txt"));
    list("root", d);
    list("d1", P(d, "d1"));
    list("d1/d2/d3", P(d, "d1/d2/d3"));

    /* rename files and directories */
    report("rename one->uno", rename(P(d, "d1/one.txt"), P(d, "d1/uno.txt")));
    report("rename uno->top-level", rename(P(d, "d1/uno.txt"), P(d, "uno.txt")));
    report("rename over existing", rename(P(d, "top.txt"), P(d, "uno.txt")));
    cat("uno after overwrite", P(d, "uno.txt"));
    report("rename missing", rename(P(d, "nope.txt"), P(d, "x.txt")));
    report("rename dir d1/d2 -> d1/e2", rename(P(d, "d1/d2"), P(d, "d1/e2")));
    cat("moved deep", P(d, "d1/e2/d3/deep.txt"));
    list("d1 after renames", P(d, "d1"));

    /* unlink / rmdir */
    report("rmdir non-empty d1", rmdir(P(d, "d1")));
    report("unlink d1/two.txt", unlink(P(d, "d1/two.txt")));
    report("unlink missing", unlink(P(d, "d1/two.txt")));
    report("unlink deep", unlink(P(d, "d1/e2/d3/deep.txt")));
    report("rmdir d3", rmdir(P(d, "d1/e2/d3")));
    report("rmdir d3 again", rmdir(P(d, "d1/e2/d3")));
    report("rmdir on a file", rmdir(P(d, "uno.txt")));
    list("d1 after removals", P(d, "d1"));

    /* symlinks */
    report("symlink rel file", symlink("uno.txt", P(d, "ln_file")));
    report("symlink rel dir", symlink("d1/e2", P(d, "ln_dir")));
    report("symlink dangling", symlink("does-not-exist", P(d, "ln_dangling")));
    report("symlink existing name", symlink("uno.txt", P(d, "ln_file")));
    char buf[256];
    long n = report("readlink ln_file", readlink(P(d, "ln_file"), buf, sizeof buf));
    if (n >= 0) printf("  -> [%.*s]\n", (int)n, buf);
    n = report("readlink ln_dangling", readlink(P(d, "ln_dangling"), buf, sizeof buf));
    if (n >= 0) printf("  -> [%.*s]\n", (int)n, buf);
    report("readlink on regular file", readlink(P(d, "uno.txt"), buf, sizeof buf));
    kind("ln_file", P(d, "ln_file"));
    kind("ln_dir", P(d, "ln_dir"));
    kind("ln_dangling", P(d, "ln_dangling"));
    kind("uno.txt", P(d, "uno.txt"));
    cat("read through ln_file", P(d, "ln_file"));
    put(P(d, "ln_dir/via_link.txt"), "written via symlinked dir\n");
    cat("read d1/e2/via_link.txt", P(d, "d1/e2/via_link.txt"));
    report_fd("open dangling O_RDONLY", open(P(d, "ln_dangling"), O_RDONLY));
    report("unlink ln_dangling", unlink(P(d, "ln_dangling")));
    /* a directory with many entries: several fd_readdir calls, cookies */
    report("mkdir bulk", mkdir(P(d, "bulk"), 0755));
    char name[128];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "bulk/entry-with-a-rather-long-name-to-fill-buffers-%04d", (i * 37) % 300);
        put(P(d, name), "");
    }
    DIR *dir = opendir(P(d, "bulk"));
    static char *bulk[512];
    int nb = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)) && nb < 512) bulk[nb++] = strdup(e->d_name);
    if (dir) closedir(dir);
    qsort(bulk, nb, sizeof bulk[0], cmp);
    uint32_t h = FNV_INIT;
    for (int i = 0; i < nb; i++) h = fnv1a(h, (const unsigned char *)bulk[i], strlen(bulk[i]) + 1);
    printf("bulk: %d entries fnv=%08x first=%s last=%s\n", nb, h, nb ? bulk[0] : "-", nb ? bulk[nb - 1] : "-");
    int removed = 0;
    for (int i = 0; i < nb; i++) {
        if (bulk[i][0] != '.') {
            snprintf(name, sizeof name, "bulk/%s", bulk[i]);
            removed += unlink(P(d, name)) == 0;
        }
        free(bulk[i]);
    }
    printf("bulk: removed %d\n", removed);
    report("rmdir bulk", rmdir(P(d, "bulk")));
    list("root final", d);
    list("d1/e2 final", P(d, "d1/e2"));
    return 0;
}
