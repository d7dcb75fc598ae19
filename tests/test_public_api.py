import synthcam


def test_all_names_exist():
    for name in synthcam.__all__:
        assert hasattr(synthcam, name), name


def test_errors_form_one_tree():
    for name in synthcam.__all__:
        obj = getattr(synthcam, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, synthcam.SynthcamError)


def test_light_import_does_not_load_video_libraries():
    import subprocess
    import sys

    code = "import sys, synthcam; print('av' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
