/*
 * cli.h - what the subcommands of the stirwire tool share.
 *
 * The tool is one binary with subcommands (keygen, sign, check, decode); main.c
 * dispatches from a table of cli_cmd, and each cmd_*.c file holds one subcommand.
 * The tool uses only the public libstirwire header, like any other user of the
 * library. Its exit codes are the library's error classes (sw_class), so a script
 * sees the same number for the same kind of failure from every subcommand.
 * Rule: every failure is one line on stderr that names what was wrong; nothing
 * here may crash or read without bound on any input.
 */
#ifndef SW_CLI_H
#define SW_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "stirwire.h"

#define CLI_PROG "stirwire"

/* The most bytes the tool reads as an Identity from stdin or a file. */
#define CLI_INPUT_MAX (64 * 1024)

/* Exit codes: the error class numbers, so that "check" and "sign" agree. */
#define CLI_EXIT_OK ((int)SW_CLASS_OK)
#define CLI_EXIT_USAGE ((int)SW_CLASS_USAGE)
#define CLI_EXIT_INPUT ((int)SW_CLASS_INPUT)
#define CLI_EXIT_INTERNAL ((int)SW_CLASS_INTERNAL)

/* The exit-code table as help text, shared by --help of check and the man page's wording. */
extern const char cli_exit_help[];

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand name; returns the exit code. */
    int (*run)(int argc, char **argv);
    /* Prints the full help of the subcommand. */
    void (*usage)(FILE *out);
} cli_cmd;

int cmd_keygen(int argc, char **argv);
void cmd_keygen_usage(FILE *out);
int cmd_sign(int argc, char **argv);
void cmd_sign_usage(FILE *out);
int cmd_check(int argc, char **argv);
void cmd_check_usage(FILE *out);
int cmd_decode(int argc, char **argv);
void cmd_decode_usage(FILE *out);

/*
 * Prints "stirwire CMD: message" as one line on stderr (cmd may be NULL). Control
 * characters in the message become '?' and a very long message is cut, so that input
 * quoted in it can never break the line.
 */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints one line on out, with the same cleaning as cli_err. */
void cli_line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies s into buf for quoting in a message, cut to fit with "..." (size - 4 characters). */
const char *cli_quote(const char *s, char *buf, size_t size);

/*
 * Reports a getopt_long() failure (c is '?' or ':') as a usage error; returns
 * CLI_EXIT_USAGE.
 */
int cli_getopt_error(const char *cmd, int c, int argc, char **argv);

/*
 * Parses a decimal integer option value in [min, max]; prints a usage error naming the
 * option and returns -1 when it is not one.
 */
int cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
                  int64_t *out);

/*
 * Reports that the key file path cannot be used: "stirwire CMD: cannot read key PATH:
 * <sw_strerror>: <sw_errmsg>".
 */
void cli_key_error(const char *cmd, const sw_ctx *ctx, sw_err err, const char *path);

/* The exit code for an error of the library. */
int cli_exit_code(sw_err err);

/*
 * Reads a whole input of at most CLI_INPUT_MAX bytes from path (NULL or "-" is stdin)
 * into *buf (NUL-terminated; free() it). Returns SW_OK, SW_ERR_IO, SW_ERR_NOMEM or
 * SW_ERR_IDENTITY_TOO_LONG (more than CLI_INPUT_MAX bytes), with a detail in msg.
 */
sw_err cli_read_input(const char *path, char **buf, size_t *len, char *msg, size_t msgsize);

/*
 * Trims an Identity value in place of a view: leading and trailing white space (CR, LF
 * too) and a leading "Identity:" or "y:" header name. Returns the start; *len is updated.
 */
const char *cli_identity_trim(const char *s, size_t *len);

/*
 * Gets the Identity a subcommand works on: the argument arg, or, when arg is NULL or
 * "-", stdin; or the file path when that is not NULL (arg must then be NULL). On
 * success *value and *len are a trimmed view into *owned (free() it) or into arg.
 */
sw_err cli_get_identity(const char *arg, const char *path, char **owned, const char **value,
                        size_t *len, char *msg, size_t msgsize);

/* Wipes memory that held key material (the compiler may not drop it). */
void cli_wipe(void *p, size_t len);

/* A jansson string for s: null for NULL, and any invalid UTF-8 replaced. */
json_t *cli_json_str(const char *s);

#endif /* SW_CLI_H */
