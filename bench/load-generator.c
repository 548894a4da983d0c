/* Synthetic load for the sensor benchmark (compiled by bench/sensor-bench.ts with cc):
 * opens FILE at RATE per second (0: as fast as it can) for MS milliseconds, and runs /bin/true
 * EXECS times spread over that time. Prints "DONE <opens> <execs>". argv: FILE RATE MS EXECS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  const char *file = argv[1];
  double rate = atof(argv[2]), secs = atof(argv[3]) / 1000.0;
  long execs = atol(argv[4]), opens = 0, runs = 0;
  double start = now();
  for (;;) {
    double t = now() - start;
    if (t >= secs) break;
    long due = rate > 0 ? (long)(t * rate) : opens + 1000;
    while (opens < due) {
      int fd = open(file, O_RDONLY);
      if (fd >= 0) close(fd);
      opens++;
    }
    if (runs < (long)(t / secs * execs)) {
      pid_t p = fork();
      if (p == 0) {
        execl("/bin/true", "true", "peregrine-bench", (char *)0);
        _exit(127);
      }
      runs++;
    }
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  while (wait(0) > 0) {}
  printf("DONE %ld %ld\n", opens, runs);
  return 0;
}
