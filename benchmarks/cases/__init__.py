"""The cases benchmarks/run.py adds to ``greenabc bench``'s (which live in the
package, ``greenabc/_cli/_bench_cases.py``): one module per kind of peer or
work. Each module imports its engine or peer inside its functions, after the
runner has patched."""
