/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-error.h"

G_DEFINE_QUARK (packd-error-quark, packd_error)
