/*
 * pub.h - GET|HEAD /v1/pub/<file>: the files of one directory (pub_dir) served as they are,
 * so that stirwired can host its own certificates as x5u (ATIS-1000080) the way
 * secsipidx -http-srv -http-dir does. No listing, no traversal, no symlinks at all, no
 * hidden files, regular files of at most SW_PUB_MAX_SIZE bytes only.
 *
 * The rule a newcomer must not break: a name from a request is opened only beneath the
 * directory descriptor, never as a path string joined to pub_dir, and never through a
 * symbolic link (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a walk with O_NOFOLLOW on
 * every component where openat2 is missing).
 */
#ifndef SW_HTTP_PUB_H
#define SW_HTTP_PUB_H

#include <stddef.h>

#include "api.h"

/* The URL prefix the routing table gives to sw_api_pub (GET,HEAD, prefix match). */
#define SW_PUB_PREFIX "/v1/pub/"

/*
 * The largest file served, in bytes. Certificates and their chains are a few KiB and
 * CRLs rarely reach 100 KiB; a bigger file in pub_dir is a mistake, not something to
 * stream to anyone who asks.
 */
#define SW_PUB_MAX_SIZE (1024 * 1024)

/*
 * The handler of GET|HEAD /v1/pub/<name> (<name> = req->path after SW_PUB_PREFIX, which
 * may contain '/' to reach a subdirectory). On success: status 200, resp->fd (opened
 * O_RDONLY|O_CLOEXEC, owned by the server from then on, which sends fd_size bytes of it
 * and closes it; HEAD sends the headers only), resp->fd_size (bytes), content_type from
 * the name's extension (sw_pub_content_type), and Cache-Control / Last-Modified in
 * resp->headers.
 *
 * Every refusal is a JSON error through sw_http_error with resp->fd = -1:
 *   400 bad_path   the name cannot be a file name at all: NUL (%00), a control
 *                  character, a backslash, longer than NAME_MAX a component or 1024 in all;
 *   404 not_found  everything else, with one and the same message, so that the answer never
 *                  tells whether something exists: no pub_dir (pub_dirfd -1), an empty name,
 *                  a leading '/', empty components ("a//b", a trailing '/'), a component
 *                  that starts with '.' ("..", ".", hidden files), "%2e" / "%2f" / "%5c"
 *                  in req->raw_path, a symbolic link anywhere on the way (even one that
 *                  points inside pub_dir), a directory, a FIFO, socket or device, a file
 *                  over SW_PUB_MAX_SIZE, a file that does not exist or cannot be read;
 *   405            a method other than GET or HEAD (the routing table already refuses them).
 * Never SW_HTTP_AGAIN.
 */
enum sw_http_rc sw_api_pub(const struct sw_api *api, struct sw_http_req *req,
                           struct sw_http_resp *resp);

/*
 * Opens PATH as the root of /v1/pub/ (O_DIRECTORY|O_PATH|O_CLOEXEC) for
 * sw_api.pub_dirfd. PATH itself may be a symbolic link (the operator chose it); only what
 * requests name beneath it is held to the rules above. Returns the descriptor (the caller
 * closes it), or -1 with a message in ERR (ERRLEN bytes, always NUL-terminated when
 * ERRLEN > 0) naming PATH and the reason.
 */
int sw_pub_open_dir(const char *path, char *err, size_t errlen);

/* How sw_pub_open_file resolves a name (tests force the fallback to cover it). */
enum sw_pub_resolve {
    SW_PUB_RESOLVE_AUTO = 0, /* openat2 when the kernel has it (Linux 5.6+), else the walk */
    SW_PUB_RESOLVE_WALK = 1  /* always the component walk with O_NOFOLLOW */
};

/*
 * Opens NAME (already checked by the rules above: relative, no empty or dot-leading
 * component) beneath DIRFD, for reading, without following any symbolic link: O_RDONLY|
 * O_CLOEXEC|O_NOFOLLOW|O_NOCTTY, and O_NONBLOCK while opening so that a FIFO cannot block
 * the thread (cleared again before returning). Returns the descriptor or -1 with errno set
 * (ELOOP for a symbolic link, ENOTDIR for a non-directory on the way, ENOENT, EXDEV from
 * openat2 when the name would leave DIRFD, ...). It does not check the file's type or size.
 */
int sw_pub_open_file(int dirfd, const char *name, enum sw_pub_resolve how);

/*
 * The Content-Type for NAME by its extension, case-insensitively: .pem .crt .cer ->
 * "application/x-pem-file", .der -> "application/pkix-cert" (RFC 2585), .crl ->
 * "application/pkix-crl" (RFC 2585), anything else "application/octet-stream". A static
 * string.
 */
const char *sw_pub_content_type(const char *name);

#endif /* SW_HTTP_PUB_H */
