"""The production topology, proven on one machine (`make topology`).

Two `clientcompass web` replicas and two workers, each with its own data folder as separate
containers would have, behind a real nginx, on PostgreSQL (the machine's when
TEST_DATABASE_URL is set, embedded otherwise), a private Redis that is restarted mid-run,
and the project's Twilio stand-in. Bounded traffic runs while a replica and a worker are
killed with SIGKILL; the run then checks that nothing was lost or done twice and prints one
summary line of figures. It exits non-zero on any loss.
"""
