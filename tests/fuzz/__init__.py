"""The input fuzzer's parts (tests/test_fuzz.py runs it): valid files, their damage, the strategies
that draw it, and the judging of one case."""
