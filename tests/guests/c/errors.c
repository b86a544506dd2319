/* Error paths: every call here is expected to fail; prints errno + strerror.
 * usage: errors DIR */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *d = argc > 1 ? argv[1] : ".";
    int fd;
    char buf[16];

    report_fd("open missing", open(P(d, "missing.txt"), O_RDONLY));
    report_fd("open missing dir component", open(P(d, "nodir/file.txt"), O_RDONLY));
    FILE *f = fopen(P(d, "missing.txt"), "r");
    printf("fopen missing: %s errno=%d (%s)\n", f ? "ok" : "NULL", errno, strerror(errno));
    struct stat st;
    report("stat missing", stat(P(d, "missing.txt"), &st));
    report("opendir missing", opendir(P(d, "missing")) ? 0 : -1);

    mkdir(P(d, "adir"), 0755);
    fd = open(P(d, "afile"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "abc", 3);
    close(fd);

    report_fd("open dir O_WRONLY", open(P(d, "adir"), O_WRONLY));
    report_fd("open file O_DIRECTORY", open(P(d, "afile"), O_RDONLY | O_DIRECTORY));
    report_fd("open file/child", open(P(d, "afile/child"), O_RDONLY));
    report("mkdir existing file", mkdir(P(d, "afile"), 0755));
    report("mkdir existing dir", mkdir(P(d, "adir"), 0755));
    report("unlink dir", unlink(P(d, "adir")));
    report("rmdir file", rmdir(P(d, "afile")));
    report("rmdir missing", rmdir(P(d, "missing")));
    report("rename dir over file", rename(P(d, "adir"), P(d, "afile")));
    report("rename file over dir", rename(P(d, "afile"), P(d, "adir")));
    report("opendir on file", opendir(P(d, "afile")) ? 0 : -1);

    report("read closed fd", read(77, buf, 1));
    report("write closed fd", write(77, buf, 1));
    report("close closed fd", close(77));
    fd = open(P(d, "afile"), O_RDONLY);
    close(fd);
    report("read after close", read(fd, buf, 1));
    report("lseek closed fd", lseek(99, 0, SEEK_SET));

    fd = open(P(d, "adir"), O_RDONLY | O_DIRECTORY);
    report("open dir O_DIRECTORY", fd >= 0 ? 0 : -1);
    report("read on a dir fd", read(fd, buf, 1));
    close(fd);
    return 0;
}
