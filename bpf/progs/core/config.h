/* Load-time knobs shared by the stack cores (const volatile: user space sets them before load;
 * their names and sizes are in src/objects.ts, checked against BTF by layout.test.ts). */
#ifndef SWLITE_CONFIG_H
#define SWLITE_CONFIG_H

/* Capture kernel stacks (stacks.h, snapshot.h). */
const volatile __u8 collect_kernel = 1;

#endif
