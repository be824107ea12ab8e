/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance specs for the domain XML tests, and a spec comparison. */
#pragma once

#include "instance-spec.h"

G_BEGIN_DECLS

typedef GvdInstanceSpec *(*GvdTestSpecFunc) (void);

typedef struct {
  const char *name;     /* golden file tests/data/domain/<name>.xml */
  GvdTestSpecFunc make;
} GvdTestDomainCase;

/* NULL-terminated (name == NULL) table of the golden cases. */
extern const GvdTestDomainCase gvd_test_domain_cases[];

/* A small valid spec every case starts from: TCG, EFI, one root volume, a
 * seed ISO, a user NIC. */
GvdInstanceSpec *gvd_test_spec_minimal (const char *name);

GvdHostdevSpec *gvd_test_hostdev (const char *address, guint group, guint function, int clique);

/* Assert @got carries what the metadata and domain promise to give back from
 * @want (cmocka failure naming the field otherwise). */
void gvd_test_assert_spec_equal (const GvdInstanceSpec *want, const GvdInstanceSpec *got);

G_END_DECLS
