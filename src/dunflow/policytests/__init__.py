"""`dunflow test`: policy test cases in YAML, run by the real engine on a throwaway database."""
