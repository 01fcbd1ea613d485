/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_ERROR_H
#define PACKD_ERROR_H

#include <glib.h>

G_BEGIN_DECLS

#define PACKD_ERROR (packd_error_quark ())
GQuark packd_error_quark (void);

/* Every engine failure is reported as a GError in this domain; the engine
 * never aborts or exits. */
typedef enum {
  PACKD_ERROR_IO,               /* file missing, unreadable, short read */
  PACKD_ERROR_FORMAT,           /* corrupt or malformed file contents */
  PACKD_ERROR_MODEL,            /* model file valid but not what the architecture expects */
  PACKD_ERROR_INVALID_ARGUMENT, /* API misuse: bad size, NULL image, ... */
  PACKD_ERROR_NO_SUPPORT,       /* scoring requested before a support set was set */
  PACKD_ERROR_NO_MEMORY,        /* arena or allocation too small / failed */
} PackdErrorCode;

G_END_DECLS

#endif /* PACKD_ERROR_H */
