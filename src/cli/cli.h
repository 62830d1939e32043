/*
 * cli.h - what the subcommands of the stirwire tool share.
 *
 * The tool is one binary with subcommands (keygen, sign, check, decode, cert); main.c
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
int cmd_cert(int argc, char **argv);
void cmd_cert_usage(FILE *out);
int cmd_pcap(int argc, char **argv);
void cmd_pcap_usage(FILE *out);
/* secsipidx's flags (Go flag syntax); argv[0] is "secsipidx" or the subcommand name. */
int cmd_serve(int argc, char **argv);
void cmd_serve_usage(FILE *out);
int cmd_secsipidx(int argc, char **argv);
void cmd_secsipidx_usage(FILE *out);

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
 * Gets the Identity a subcommand works on: the argument arg (read as a file when it names
 * a regular file), or, when arg is NULL or "-", stdin; or the file path when that is not
 * NULL (arg must then be NULL). On
 * success *value and *len are a trimmed view into *owned (free() it) or into arg.
 */
sw_err cli_get_identity(const char *arg, const char *path, char **owned, const char **value,
                        size_t *len, char *msg, size_t msgsize);

/* Wipes memory that held key material (the compiler may not drop it). */
void cli_wipe(void *p, size_t len);

/* A jansson string for s: null for NULL, and any invalid UTF-8 replaced. */
json_t *cli_json_str(const char *s);

/*
 * Writes t as UTC ISO 8601 ("2025-01-31T12:00:00Z") into buf; "?" when it cannot be
 * represented. Returns buf.
 */
const char *cli_iso_time(int64_t t, char *buf, size_t size);

/* --- fetching certificates (check without --key, cert URL) ----------------------------- */

/* How many times each repeatable file option (--ca-file, --ca-dir, --crl) may be given. */
#define CLI_FETCH_FILES_MAX 16

/*
 * The options that configure a verifier, as parsed; the strings point into argv. A
 * command lists CLI_FETCH_LONGOPTS in its getopt_long table and hands every option
 * value it does not know to cli_fetch_opt().
 */
typedef struct cli_fetch_opts {
    const char *ca_files[CLI_FETCH_FILES_MAX];
    size_t n_ca_files;
    const char *ca_dirs[CLI_FETCH_FILES_MAX];
    size_t n_ca_dirs;
    const char *crl_files[CLI_FETCH_FILES_MAX];
    size_t n_crl_files;
    int allow_http, allow_private, allow_any_port, allow_query;
    int no_chain, no_crl_fetch;
    long timeout_ms; /* 0: the library's default */
    const char *tls_ca, *cache_dir;
    int given; /* any of these options was given */
} cli_fetch_opts;

enum {
    CLI_FOPT_CA_FILE = 1024,
    CLI_FOPT_CA_DIR,
    CLI_FOPT_CRL,
    CLI_FOPT_ALLOW_HTTP,
    CLI_FOPT_ALLOW_PRIVATE,
    CLI_FOPT_ALLOW_ANY_PORT,
    CLI_FOPT_ALLOW_QUERY,
    CLI_FOPT_NO_CHAIN,
    CLI_FOPT_NO_CRL_FETCH,
    CLI_FOPT_TIMEOUT,
    CLI_FOPT_TLS_CA,
    CLI_FOPT_CACHE_DIR,
};

/*
 * The getopt_long rows of those options, for a command's table (no trailing comma); kept
 * one row a line, like the tables they are pasted into.
 */
/* clang-format off */
#define CLI_FETCH_LONGOPTS                                                                         \
    {"ca-file", required_argument, NULL, CLI_FOPT_CA_FILE},                                        \
    {"ca-dir", required_argument, NULL, CLI_FOPT_CA_DIR},                                          \
    {"crl", required_argument, NULL, CLI_FOPT_CRL},                                                \
    {"allow-http", no_argument, NULL, CLI_FOPT_ALLOW_HTTP},                                        \
    {"allow-private", no_argument, NULL, CLI_FOPT_ALLOW_PRIVATE},                                  \
    {"allow-any-port", no_argument, NULL, CLI_FOPT_ALLOW_ANY_PORT},                                \
    {"allow-query", no_argument, NULL, CLI_FOPT_ALLOW_QUERY},                                      \
    {"no-chain", no_argument, NULL, CLI_FOPT_NO_CHAIN},                                            \
    {"no-crl-fetch", no_argument, NULL, CLI_FOPT_NO_CRL_FETCH},                                    \
    {"timeout", required_argument, NULL, CLI_FOPT_TIMEOUT},                                        \
    {"tls-ca", required_argument, NULL, CLI_FOPT_TLS_CA},                                          \
    {"cache-dir", required_argument, NULL, CLI_FOPT_CACHE_DIR}
/* clang-format on */

/* The help lines of those options (indented like the commands' own option lists). */
extern const char cli_fetch_help[];

/*
 * Takes option c (with its value arg) when it is a fetch option: returns 1 when taken,
 * 0 when c is not one, -1 after printing a usage error (a bad --timeout, too many files).
 */
int cli_fetch_opt(const char *cmd, cli_fetch_opts *fo, int c, const char *arg);

/* 1 when the options give trust anchors (--ca-file or --ca-dir). */
int cli_fetch_has_anchors(const cli_fetch_opts *fo);

/*
 * Makes a verifier configured by fo. On failure prints one line naming the option or
 * file and returns NULL with the exit code in *rc.
 */
sw_verifier *cli_verifier_new(const char *cmd, const cli_fetch_opts *fo, sw_ctx *ctx, int *rc);

/*
 * The detail to show for a failure of a verifier configured by fo: sw_errmsg(ctx), with a
 * hint appended when the chain could not be checked because no trust anchors were given.
 */
const char *cli_fetch_detail(const cli_fetch_opts *fo, const sw_ctx *ctx, sw_err err, char *buf,
                             size_t size);

#endif /* SW_CLI_H */
