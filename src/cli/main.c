/*
 * main.c - the stirwire tool's entry point: finds the subcommand in a table and runs it.
 *
 * Global options (--help, --version) and "help CMD" are handled here; everything else
 * belongs to a subcommand, which parses its own options with getopt_long. To add a
 * subcommand, write cmd_NAME.c with a run and a usage function and add one row to
 * the table below; the help text and the man page list the subcommands in this order.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "cli.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION NULL
#endif

static const cli_cmd commands[] = {
    {"keygen", "make a P-256 signing key", cmd_keygen, cmd_keygen_usage},
    {"sign", "sign a PASSporT and print the Identity header value", cmd_sign, cmd_sign_usage},
    {"check", "verify an Identity header value", cmd_check, cmd_check_usage},
    {"decode", "print an Identity header value as JSON, without verifying", cmd_decode,
     cmd_decode_usage},
    {"cert", "show an STI certificate (file or x5u URL) and whether it is valid", cmd_cert,
     cmd_cert_usage},
    {"pcap", "audit pcap/pcapng captures: every INVITE judged at its capture time", cmd_pcap,
     cmd_pcap_usage},
    {"serve", "serve the REST API (sign, check, /v1/pub, metrics) until SIGINT or SIGTERM",
     cmd_serve, cmd_serve_usage},
    {"secsipidx", "secsipidx's command line (-sign-full, -check, ...) on libsecsipid",
     cmd_secsipidx, cmd_secsipidx_usage},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_cmd *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *out)
{
    size_t i;

    fprintf(out,
            "Usage: %s COMMAND [OPTIONS] [ARGS]\n"
            "       %s help COMMAND\n"
            "       %s --help | --version\n"
            "\n"
            "STIR/SHAKEN toolkit: sign and verify SIP Identity headers (RFC 8224, 8225, 8588).\n"
            "\n"
            "Commands:\n",
            CLI_PROG, CLI_PROG, CLI_PROG);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun '%s COMMAND --help' for the options of a command.\n\n%s", CLI_PROG,
            cli_exit_help);
}

static void version(void)
{
    const char *tool = PACKAGE_VERSION;

    if (tool == NULL)
        tool = sw_version();
    printf("%s %s (libstirwire %s)\n", CLI_PROG, tool, sw_version());
}

int main(int argc, char **argv)
{
    const cli_cmd *cmd;
    char q[80];
    const char *self = argc > 0 && argv[0] != NULL ? strrchr(argv[0], '/') : NULL;

    /* Run as "secsipidx" (the symlink make install puts beside us): secsipidx's flags. */
    self = self != NULL ? self + 1 : argc > 0 && argv[0] != NULL ? argv[0] : "";
    if (strcmp(self, "secsipidx") == 0)
        return cmd_secsipidx(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        version();
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc == 2) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc > 3) {
            cli_err("help", "give one command name (see '%s --help')", CLI_PROG);
            return CLI_EXIT_USAGE;
        }
        if ((cmd = find_command(argv[2])) == NULL) {
            cli_err("help", "unknown command '%s' (see '%s --help')",
                    cli_quote(argv[2], q, sizeof(q)), CLI_PROG);
            return CLI_EXIT_USAGE;
        }
        cmd->usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argv[1][0] == '-') {
        cli_err(NULL, "unknown option '%s' (see '%s --help')", cli_quote(argv[1], q, sizeof(q)),
                CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    if ((cmd = find_command(argv[1])) == NULL) {
        cli_err(NULL, "unknown command '%s' (see '%s --help')", cli_quote(argv[1], q, sizeof(q)),
                CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
