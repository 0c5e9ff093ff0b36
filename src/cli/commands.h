/* Subcommands of the sesrelay binary; each lives in its own cmd_*.c and
 * returns the process exit code (0 ok, 1 failure, 2 usage/config error).
 * argv[0] is the subcommand name; global options (-c) are already taken
 * out. Each answers --help with its usage on stdout and exit code 0. */
#ifndef SESRELAY_COMMANDS_H
#define SESRELAY_COMMANDS_H

int cmd_run(const char *config_path, int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_whoami(const char *config_path, int argc, char **argv);
int cmd_check(const char *config_path, int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_queue(const char *config_path, int argc, char **argv);
/* Returns a sysexits code (EX_USAGE, EX_TEMPFAIL, ...), as sendmail does. */
int cmd_sendmail(const char *config_path, int argc, char **argv);

#endif
