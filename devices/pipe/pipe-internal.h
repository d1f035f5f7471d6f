/*
 * devices/pipe/pipe-internal.h - the service registry (pipe-service.c)
 * shared with the channels (pipe.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_PIPE_INTERNAL_H
#define DEVICES_PIPE_INTERNAL_H

#include "qcontext/devices/pipe/pipe.h"

/* A registered service; channels hold a reference while open. */
typedef struct PipeService {
    char *name;
    const PipeServiceOps *ops;
    void *opaque;
    gint refs;
} PipeService;

/*
 * The service for @name (a new reference): registered as @name, or as the
 * part before its first ':' (then *@args is the rest; else "").  NULL if none.
 */
PipeService *pipe_service_lookup(const char *name, const char **args);
void pipe_service_unref(PipeService *s);

#endif /* DEVICES_PIPE_INTERNAL_H */
