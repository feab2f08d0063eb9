"""The scenario result files (tests/helpers/results.py) follow the schema, as the report tests
assume."""
from helpers.results import make_results


def test_scenario_files_follow_the_result_schema(tmp_path):
    """The report tests read what the harness writes: the scenario must be schema-valid."""
    from harness.results import results
    docs = make_results(str(tmp_path))
    assert len(docs) >= 20
    for doc in docs:
        assert results.validate(doc) == [], doc["provenance"]
    assert len(results.result_paths(str(tmp_path))) == len(docs) + 2
