/* The crash-loop floor: N children of PROGRAM (e.g. /bin/false), each replaced with
   posix_spawn as soon as waitpid(-1) reaps it, for SECONDS; prints the number of restarts.
   No cgroup, no pipe, no log: what the machine itself allows.
   usage: crash_loop PROGRAM N SECONDS */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  char *cargv[] = {argv[1], 0};
  int n = atoi(argv[2]);
  double seconds = atof(argv[3]);
  pid_t pid;
  for (int i = 0; i < n; i++) posix_spawn(&pid, argv[1], 0, 0, cargv, environ);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long restarts = 0;
  for (;;) {
    if (waitpid(-1, 0, 0) < 0) return 1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds) break;
    posix_spawn(&pid, argv[1], 0, 0, cargv, environ);
    restarts++;
  }
  while (waitpid(-1, 0, 0) > 0) {}
  printf("%ld\n", restarts);
  return 0;
}
