/*
 * cmd_decode.c - "stirwire decode": shows what an Identity header value carries.
 *
 * Only the syntax is checked (sw_identity_parse); nothing is verified, so this is the
 * tool for looking at a token that "check" refuses. The library's JSON is re-indented
 * for people to read; if it cannot be re-read (a number too large for jansson, say), the
 * library's text is printed as it is rather than hiding the token.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "decode"

void cmd_decode_usage(FILE *out)
{
    fprintf(out,
            "Usage: %s decode [--input FILE] [IDENTITY | -]\n"
            "\n"
            "Prints a SIP Identity header value as JSON: the JWT header, the payload claims,\n"
            "the header parameters, the signature and the form (full or compact). Nothing is\n"
            "verified. IDENTITY is the header value; '-' or none reads it from standard input\n"
            "(at most %d KiB). A leading \"Identity:\" or \"y:\" header name is ignored.\n"
            "\n"
            "Options:\n"
            "  -i, --input FILE   read IDENTITY from FILE\n"
            "  -h, --help         print this help\n"
            "\n"
            "Exit status: 0 success, 1 usage error, 2 input cannot be read, 3 empty input,\n"
            "4 malformed Identity, 9 internal error.\n",
            CLI_PROG, CLI_INPUT_MAX / 1024);
}

int cmd_decode(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *input = NULL, *arg = NULL, *value;
    char *owned = NULL, *text = NULL, *pretty = NULL;
    char msg[256], q[80];
    size_t len;
    sw_ctx *ctx = NULL;
    sw_identity *id = NULL;
    json_t *j;
    int c, rc = CLI_EXIT_OK;
    sw_err err;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            input = optarg;
            break;
        case 'h':
            cmd_decode_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind < argc)
        arg = argv[optind++];
    if (optind < argc) {
        cli_err(CMD, "unexpected argument '%s': give one IDENTITY (see '%s decode --help')",
                cli_quote(argv[optind], q, sizeof(q)), CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    if (arg != NULL && input != NULL) {
        cli_err(CMD, "give IDENTITY or --input FILE, not both");
        return CLI_EXIT_USAGE;
    }

    if ((err = cli_get_identity(arg, input, &owned, &value, &len, msg, sizeof(msg))) != SW_OK) {
        cli_err(CMD, "%s: %s", sw_strerror(err), msg);
        rc = cli_exit_code(err);
        goto out;
    }
    if ((ctx = sw_ctx_new()) == NULL) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if ((err = sw_identity_parse(ctx, value, len, &id)) != SW_OK) {
        const char *detail = sw_errmsg(ctx);
        if (detail != NULL && *detail != '\0')
            cli_err(CMD, "%s: %s", sw_strerror(err), detail);
        else
            cli_err(CMD, "%s", sw_strerror(err));
        rc = cli_exit_code(err);
        goto out;
    }
    if ((err = sw_identity_to_json(ctx, id, &text)) != SW_OK) {
        cli_err(CMD, "cannot show the Identity as JSON: %s: %s", sw_strerror(err), sw_errmsg(ctx));
        rc = cli_exit_code(err);
        goto out;
    }
    if ((j = json_loads(text, 0, NULL)) != NULL) {
        pretty = json_dumps(j, JSON_INDENT(2));
        json_decref(j);
    }
    if (printf("%s\n", pretty != NULL ? pretty : text) < 0 || fflush(stdout) != 0) {
        cli_err(CMD, "cannot write to standard output");
        rc = CLI_EXIT_INPUT;
    }

out:
    free(pretty);
    sw_free(text);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    free(owned);
    return rc;
}
