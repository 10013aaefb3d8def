/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COHO_CONTROL_H
#define COHO_CONTROL_H

#include <stddef.h>
#include <sys/un.h>

#include "util/types.h"

/*
 * Control sockets: each running guest listens on DIR/NAME.sock, where DIR
 * is $XDG_RUNTIME_DIR/coho when XDG_RUNTIME_DIR is set, else ~/.coho
 * (kvmtool keeps its sockets in ~/.lkvm), else /tmp/coho-UID. DIR is created 0700 and must be
 * the user's own and not writable by others; sockets are 0600. A socket
 * nobody listens on is stale and removed by the next `coho run` with that
 * name or by `coho list`.
 *
 * The protocol is one request line from the client ("status", "stop",
 * "pause", "resume", "dump", "sysrq K") and a reply that starts with "ok"
 * or "error: ..." and may have more lines; then the server closes.
 */
#define CONTROL_NAME_MAX 64

/* A guest name usable as a socket name: [A-Za-z0-9._-], 1-64, not starting with '.'. */
bool control_name_ok(const char *name);

/*
 * The socket directory into @buf (created if @create). -errno with one error
 * line, except -ENOENT without @create (no guest has run yet): no message.
 */
int control_dir(char *buf, size_t len, bool create);

/* DIR/NAME.sock into @sun. -ENAMETOOLONG if it does not fit. */
int control_addr(const char *dir, const char *name, struct sockaddr_un *sun);

struct control_ops {
	/* Answer a request (without its newline) by writing the reply to @fd. */
	void (*request)(void *opaque, const char *req, int fd);
	void *opaque;
};

struct control {
	int listen_fd;
	struct sockaddr_un addr;
	struct control_ops ops;
};

/*
 * Listen on the socket for @name. -EADDRINUSE (with a message) if a guest
 * of that name is running; a stale socket is replaced.
 */
int control_open(struct control *c, const char *name, const struct control_ops *ops);
/* Accept and answer one client (the listening fd was readable). */
void control_serve(struct control *c);
/* Stop listening and remove the socket. */
void control_close(struct control *c);

/*
 * Client side: send @req to the guest @name and copy the reply into @reply.
 * -ENOENT if no guest of that name runs (a stale socket is removed),
 * -ETIMEDOUT if it does not answer within 10 s.
 */
int control_request(const char *dir, const char *name, const char *req, char *reply, size_t len);

#endif
