"""Property-based tests: whatever a user types, only modelver's documented errors come out, with a message."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modelver import get_model_builder, get_weight
from modelver.errors import ModelverError, SourceError
from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights
from modelver.store import parse_location
from modelver.store._sources import parse_hf, parse_pkg

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
names = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.ascii_letters + string.digits + "._-/@: ", max_size=40),
    st.builds(lambda a, b: f"{a}.{b}", st.sampled_from(["EfficientNet_Lite0_Weights", "X_Weights", ""]), st.text(max_size=20)),
)


def _documented(exc: BaseException) -> bool:
    return isinstance(exc, ModelverError) and bool(str(exc).strip())


@SETTINGS
@given(names)
def test_get_weight(name: str) -> None:
    try:
        result = get_weight(name)
    except Exception as exc:  # noqa: BLE001 - the property is about what escapes
        assert _documented(exc), repr(exc)
    else:
        assert result in list(EfficientNet_Lite0_Weights) or result.__class__.__name__ in name


@SETTINGS
@given(names)
def test_get_model_builder(name: str) -> None:
    try:
        builder = get_model_builder(name)
    except Exception as exc:  # noqa: BLE001
        assert _documented(exc), repr(exc)
    else:
        assert callable(builder) and builder.__name__ == name.strip().lower()


@SETTINGS
@given(st.one_of(names, st.integers(), st.none(), st.floats(), st.lists(st.text(max_size=3), max_size=2)))
def test_verify(value: object) -> None:
    try:
        result = EfficientNet_Lite0_Weights.verify(value)
    except TypeError as exc:  # torchvision's documented error for a non-name, non-member value
        assert not isinstance(value, str) and "Invalid Weight class provided" in str(exc)
    except Exception as exc:  # noqa: BLE001
        assert isinstance(value, str) and _documented(exc), repr(exc)
    else:
        assert result is None or isinstance(result, EfficientNet_Lite0_Weights)


locations = st.one_of(
    st.text(max_size=60),
    st.builds(lambda rest: "hf://" + rest, st.text(alphabet=string.ascii_letters + "/@.-_ ", max_size=50)),
    st.builds(lambda rest: "pkg://" + rest, st.text(alphabet=string.ascii_letters + "/.-_", max_size=50)),
    st.builds(lambda rest: "https://" + rest, st.text(max_size=40)),
)


@SETTINGS
@given(locations)
@example("~0")  # found by this test: a home directory of a user the machine does not have
def test_location_parsers(url: str) -> None:
    for parser in (parse_location, parse_hf, parse_pkg):
        try:
            parser(url)
        except SourceError as exc:
            assert str(exc).strip()
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{parser.__name__}({url!r}) raised {exc!r}")


@SETTINGS
@given(st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12), st.text(alphabet=string.ascii_lowercase + "/", max_size=20))
def test_hf_parse_round_trip(name: str, path: str) -> None:
    url = f"hf://org/{name}@main/{path}"
    try:
        repo, revision, filename = parse_hf(url)
    except SourceError:
        return
    assert (repo, revision, filename) == (f"org/{name}", "main", path)


bundle_bytes = st.one_of(st.binary(max_size=2048), st.builds(lambda b: b"\x08\x07" + b, st.binary(max_size=512)))
manifests = st.one_of(
    st.text(max_size=200),
    st.dictionaries(
        st.sampled_from(["format", "model_file", "files", "inputs", "outputs", "meta", "version"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3),
                  st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)),
        max_size=7,
    ).map(lambda d: __import__("json").dumps(d)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=bundle_bytes, manifest=manifests, suffix=st.sampled_from([".onnx", ".pt", ".pt2"]))
def test_bundle_loader_refuses_garbage_with_bundle_errors(data: bytes, manifest: str, suffix: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from modelver_export.runtime import load

    from modelver.errors import BundleError

    folder = tmp_path_factory.mktemp("bundle")
    model = folder / f"model{suffix}"
    model.write_bytes(data)
    for target in (model, folder):
        if target is folder:
            (folder / "bundle.json").write_text(manifest)
        try:
            load(target)
        except BundleError as exc:
            assert str(exc).strip() and "\n" not in str(exc)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"load({target.name}) with garbage raised {exc!r}")
