import synthcam


def test_all_names_exist():
    for name in synthcam.__all__:
        assert hasattr(synthcam, name), name


def test_errors_form_one_tree():
    for name in synthcam.__all__:
        obj = getattr(synthcam, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, synthcam.SynthcamError)
