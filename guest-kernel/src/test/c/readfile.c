#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* Reads a bundle file given as argv[1], lists the task root, stats, seeks, and uses /tmp. */
int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "data.txt";
    FILE *f = fopen(path, "r");
    if (!f) { perror("fopen"); return 1; }
    char line[256];
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    struct stat st;
    if (fstat(fileno(f), &st) != 0) { perror("fstat"); return 1; }
    printf("size=%ld\n", (long) st.st_size);
    fseek(f, 2, SEEK_SET);
    printf("at2=%c\n", fgetc(f));
    fclose(f);
    DIR *d = opendir("/var/task");
    if (!d) { perror("opendir"); return 1; }
    int entries = 0, found = 0;
    struct dirent *e;
    while ((e = readdir(d))) { entries++; if (strcmp(e->d_name, path) == 0) found = 1; }
    closedir(d);
    printf("listed=%d found=%d\n", entries, found);
    char cwd[256];
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd));
    FILE *t = fopen("/tmp/out.txt", "w");
    if (!t) { perror("tmp"); return 1; }
    fputs("written to tmp\n", t);
    fclose(t);
    t = fopen("/tmp/out.txt", "r");
    fgets(line, sizeof line, t);
    fputs(line, stdout);
    fclose(t);
    if (fopen("data-missing", "r") == NULL) printf("missing=ENOENT\n");
    if (fopen("new-in-bundle", "w") == NULL) printf("bundle-write=refused\n");
    return 0;
}
