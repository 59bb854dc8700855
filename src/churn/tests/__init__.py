"""The example's own tests: churn's generator, behaviour and contract. YOURS TO REPLACE.

They test the example model, not the machinery: when you replace src/churn (README "Make it
yours"), delete or rewrite them for your package (pytest collects `src/*/tests`). The
machinery's tests live in tests/ and run against a fixture package, not this one.
"""
