/*
 * cmd_keygen.c - "stirwire keygen": makes a fresh P-256 signing key.
 *
 * The private key goes to --out (created with mode 0600) or to stdout, the public half
 * to --pub when asked. An existing file is never overwritten without --force, and a
 * file we created is removed again if a later step fails, so a failed run leaves no
 * half-written key behind. The private PEM text is wiped from memory after writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CMD "keygen"

void cmd_keygen_usage(FILE *out)
{
    fprintf(out,
            "Usage: %s keygen [--out FILE] [--pub FILE] [--force]\n"
            "\n"
            "Makes a fresh EC P-256 (prime256v1) key for signing PASSporTs (ES256).\n"
            "\n"
            "Options:\n"
            "  -o, --out FILE   write the private key (PKCS#8 PEM) to FILE, created with\n"
            "                   mode 0600; without it, or with '-', to standard output\n"
            "  -p, --pub FILE   also write the public key (PEM) to FILE\n"
            "  -f, --force      overwrite FILE(s) that already exist\n"
            "  -h, --help       print this help\n"
            "\n"
            "Exit status: 0 success, 1 usage error, 2 a file cannot be written or exists,\n"
            "9 internal error.\n",
            CLI_PROG);
}

/* Creates path for writing, never following a symlink; -1 after printing why. */
static int open_new(const char *path, mode_t mode, int force)
{
    char q[80];
    int fd;

    if (force && unlink(path) != 0 && errno != ENOENT) {
        cli_err(CMD, "cannot replace %s: %s", cli_quote(path, q, sizeof(q)), strerror(errno));
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            cli_err(CMD, "%s already exists; use --force to overwrite it",
                    cli_quote(path, q, sizeof(q)));
        else
            cli_err(CMD, "cannot create %s: %s", cli_quote(path, q, sizeof(q)), strerror(errno));
        return -1;
    }
    /* The umask may have taken bits away; it cannot have added any. Make sure anyway. */
    if (fchmod(fd, mode) != 0) {
        cli_err(CMD, "cannot set the mode of %s: %s", cli_quote(path, q, sizeof(q)),
                strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

/* Writes all of s to fd and closes it (unless it is stdout); 0, or -1 after printing. */
static int write_all(int fd, const char *path, const char *s)
{
    size_t len = strlen(s), off = 0;
    char q[80];
    int rc = 0;

    while (off < len) {
        ssize_t w = write(fd, s + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            cli_err(CMD, "cannot write %s: %s", cli_quote(path, q, sizeof(q)), strerror(errno));
            rc = -1;
            break;
        }
        off += (size_t)w;
    }
    if (fd != STDOUT_FILENO && close(fd) != 0 && rc == 0) {
        cli_err(CMD, "cannot write %s: %s", cli_quote(path, q, sizeof(q)), strerror(errno));
        rc = -1;
    }
    return rc;
}

static int is_stdout(const char *path)
{
    return path == NULL || strcmp(path, "-") == 0;
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"pub", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *pub = NULL;
    int force = 0, c, rc = CLI_EXIT_OK;
    int out_fd = -1, pub_fd = -1;
    int out_made = 0, pub_made = 0; /* files we created, to remove on failure */
    sw_ctx *ctx = NULL;
    sw_key *key = NULL;
    char *priv_pem = NULL, *pub_pem = NULL;
    char q[80];
    sw_err err;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:p:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            cmd_keygen_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind < argc) {
        cli_err(CMD, "unexpected argument '%s' (see '%s keygen --help')",
                cli_quote(argv[optind], q, sizeof(q)), CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    if (pub != NULL && *pub == '\0') {
        cli_err(CMD, "--pub needs a file name");
        return CLI_EXIT_USAGE;
    }
    if (out != NULL && *out == '\0') {
        cli_err(CMD, "--out needs a file name");
        return CLI_EXIT_USAGE;
    }
    if (pub != NULL && (is_stdout(pub) ? is_stdout(out) : (out && strcmp(out, pub) == 0))) {
        cli_err(CMD, "--out and --pub name the same file");
        return CLI_EXIT_USAGE;
    }

    /* Create the files first: an existing one stops us before any key exists. */
    if (is_stdout(out))
        out_fd = STDOUT_FILENO;
    else if ((out_fd = open_new(out, 0600, force)) < 0)
        return CLI_EXIT_INPUT;
    else
        out_made = 1;
    if (pub != NULL) {
        if (is_stdout(pub)) {
            pub_fd = STDOUT_FILENO;
        } else if ((pub_fd = open_new(pub, 0644, force)) < 0) {
            rc = CLI_EXIT_INPUT;
            goto fail;
        } else {
            pub_made = 1;
        }
    }

    if ((ctx = sw_ctx_new()) == NULL) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto fail;
    }
    if ((err = sw_key_generate(ctx, &key)) != SW_OK) {
        cli_err(CMD, "cannot make a key: %s: %s", sw_strerror(err), sw_errmsg(ctx));
        rc = cli_exit_code(err);
        goto fail;
    }
    if ((err = sw_key_private_pem(ctx, key, &priv_pem)) != SW_OK ||
        (pub != NULL && (err = sw_key_public_pem(ctx, key, &pub_pem)) != SW_OK)) {
        cli_err(CMD, "cannot write the key as PEM: %s: %s", sw_strerror(err), sw_errmsg(ctx));
        rc = cli_exit_code(err);
        goto fail;
    }
    if (write_all(out_fd, is_stdout(out) ? "standard output" : out, priv_pem) != 0) {
        out_fd = -1; /* closed by write_all */
        rc = CLI_EXIT_INPUT;
        goto fail;
    }
    out_fd = -1;
    if (pub != NULL) {
        if (write_all(pub_fd, is_stdout(pub) ? "standard output" : pub, pub_pem) != 0) {
            pub_fd = -1;
            rc = CLI_EXIT_INPUT;
            goto fail;
        }
        pub_fd = -1;
    }
    goto done;

fail:
    /* Remove what we created, so a failed run leaves no partial key file. */
    if (out_fd >= 0 && out_fd != STDOUT_FILENO)
        close(out_fd);
    if (pub_fd >= 0 && pub_fd != STDOUT_FILENO)
        close(pub_fd);
    if (out_made)
        unlink(out);
    if (pub_made)
        unlink(pub);
done:
    if (priv_pem != NULL)
        cli_wipe(priv_pem, strlen(priv_pem));
    sw_free(priv_pem);
    sw_free(pub_pem);
    sw_key_free(key);
    sw_ctx_free(ctx);
    return rc;
}
