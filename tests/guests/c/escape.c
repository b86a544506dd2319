/* Sandbox-escape attempts. Every "ATTEMPT" line must report FAIL.
 * usage: escape DIR        (DIR is the guest path of the preopen, e.g. /sandbox)
 * The test harness prepares, inside the preopen:
 *   inside.txt, a/ (directory), link_out -> ../outside.txt,
 *   link_abs -> <absolute host path of outside.txt>, link_dir -> ..
 * and outside.txt next to the preopened directory.
 * "raw" attempts call wasi path_open directly on the first preopen (fd 3), so
 * the host -- not wasi-libc -- must reject them. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static int attempts, failed;

static void attempt(const char *label, long rc) {
    attempts++;
    if (rc < 0) {
        failed++;
        printf("ATTEMPT %s: FAIL errno=%d (%s)\n", label, errno, strerror(errno));
    } else {
        printf("ATTEMPT %s: ESCAPED (rc=%ld)\n", label, rc);
    }
}

static void attempt_open_read(const char *label, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char buf[64];
        long n = read(fd, buf, sizeof buf - 1);
        if (n < 0) n = 0;
        buf[n] = 0;
        printf("  (read %ld bytes from %s)\n", n, path);
        close(fd);
    }
    attempt(label, fd);
}

static void raw(const char *label, const char *path, __wasi_oflags_t oflags, __wasi_lookupflags_t lookup) {
    __wasi_fd_t fd = 0;
    __wasi_rights_t rights = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK |
                             __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READDIR;
    __wasi_errno_t e = __wasi_path_open(3, lookup, path, oflags, rights, rights, 0, &fd);
    attempts++;
    if (e != 0) {
        failed++;
        printf("ATTEMPT raw %s: FAIL wasi_errno=%d (%s)\n", label, e, strerror(e));
    } else {
        printf("ATTEMPT raw %s: ESCAPED (fd opened)\n", label);
        (void)__wasi_fd_close(fd);
    }
}

int main(int argc, char **argv) {
    const char *d = argc > 1 ? argv[1] : ".";
    struct stat st;

    /* sanity: the sandbox itself works */
    int fd = open(P(d, "inside.txt"), O_RDONLY);
    printf("control: open inside.txt %s\n", fd >= 0 ? "ok" : "FAILED");
    if (fd >= 0) close(fd);
    __wasi_prestat_t ps;
    printf("control: fd 3 is a preopen: %s\n", __wasi_fd_prestat_get(3, &ps) == 0 ? "yes" : "no");

    attempt_open_read("open ../outside.txt", P(d, "../outside.txt"));
    attempt("create ../created.txt", open(P(d, "../created.txt"), O_WRONLY | O_CREAT, 0644));
    attempt_open_read("open /etc/passwd", "/etc/passwd");
    attempt_open_read("open link_out (-> ../outside.txt)", P(d, "link_out"));
    attempt("truncate via link_out", open(P(d, "link_out"), O_WRONLY | O_TRUNC));
    attempt_open_read("open link_abs (-> absolute host path)", P(d, "link_abs"));
    attempt_open_read("open link_dir/outside.txt (link_dir -> ..)", P(d, "link_dir/outside.txt"));
    attempt("create a/../../x", open(P(d, "a/../../x"), O_WRONLY | O_CREAT, 0644));
    attempt_open_read("open a/../../outside.txt", P(d, "a/../../outside.txt"));
    attempt("stat ../outside.txt", stat(P(d, "../outside.txt"), &st));
    attempt("opendir ..", opendir(P(d, "..")) ? 0 : -1);
    attempt("mkdir ../newdir", mkdir(P(d, "../newdir"), 0755));
    attempt("rename inside.txt -> ../moved.txt", rename(P(d, "inside.txt"), P(d, "../moved.txt")));
    attempt("link ../outside.txt -> hardlink", link(P(d, "../outside.txt"), P(d, "hardlink")));
    attempt("unlink ../outside.txt", unlink(P(d, "../outside.txt")));
    /* Creating a symlink whose target points outside is allowed or not depending
     * on the host; following it must fail either way. */
    long s = symlink("../outside.txt", P(d, "mylink"));
    printf("setup: symlink mylink -> ../outside.txt: %s\n", s == 0 ? "created" : "refused");
    attempt_open_read("open mylink", P(d, "mylink"));
    if (s == 0) unlink(P(d, "mylink"));

    raw("../outside.txt", "../outside.txt", 0, 0);
    raw("/etc/passwd", "/etc/passwd", 0, 0);
    raw("/ (root)", "/", __WASI_OFLAGS_DIRECTORY, 0);
    raw("link_out (follow)", "link_out", 0, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW);
    raw("link_abs (follow)", "link_abs", 0, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW);
    raw("link_dir/outside.txt", "link_dir/outside.txt", 0, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW);
    raw("a/../../x (create)", "a/../../x", __WASI_OFLAGS_CREAT, 0);
    raw(".. (directory)", "..", __WASI_OFLAGS_DIRECTORY, 0);

    printf("summary: %d attempts, %d failed, %d escaped\n", attempts, failed, attempts - failed);
    return attempts == failed ? 0 : 1;
}
