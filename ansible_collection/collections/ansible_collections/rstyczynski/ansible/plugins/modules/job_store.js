#!/usr/bin/env node
// WANT_JSON
// Copyright: (c) 2025, rstyczynski.ansible contributors
// GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later
// Documentation entry for rstyczynski.ansible.job_store (docs: job_store.yml beside this file).
// The work is done on the controller by the job_store action plugin, which always takes
// precedence over this file; if this file ever runs on a host, it says so and fails.
process.stdout.write(
  JSON.stringify({
    failed: true,
    msg: "rstyczynski.ansible.job_store runs on the controller through its action plugin; this module file only carries its documentation",
  }),
);
