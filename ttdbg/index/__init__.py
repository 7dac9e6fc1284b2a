"""The index of a recording: every write, call and syscall in Parquet files beside it, queried
with SQL and used by the engine to answer "who wrote this?" without replaying."""
