/*
 * /usr/local/bin/peregrine in the container image: runs the agent's CLI on the image's Node
 * (no shell, no env lookup). Built statically by scripts/build-image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char **args = calloc((size_t)argc + 2, sizeof(char *));
  if (!args) return 127;
  args[0] = "node";
  args[1] = "/opt/peregrine/bin/peregrine.js";
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  args[argc + 1] = NULL;
  execv("/usr/local/bin/node", args);
  perror("peregrine: cannot run /usr/local/bin/node");
  return 127;
}
