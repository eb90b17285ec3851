"""The audit journal: the hash-chained file (audit), the one sink everything is written through (sink), the
port calls recorded into it (recording, codec), and reading it back: timeline and replay (replay, cli)."""
