from setuptools import find_packages
from setuptools import setup

setup(
    name="ofa_tf",
    version="0.1.0",
    description="Once-for-All networks for TensorFlow/Keras 3, TFLite export and on-phone benchmarking",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # The folder tools/ installs as the package `ofa_tf_tools`: a top-level package called `tools` would collide with
    # other distributions that ship one. Its modules import each other relatively, so from a clone it also imports
    # as `tools` (the tests and the import contracts use that name).
    packages=[*find_packages(include=["ofa_tf", "ofa_tf.*", "android_bench", "android_bench.*"]), "ofa_tf_tools"],
    package_dir={"ofa_tf_tools": "tools"},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15",
        "tf_keras>=2.21,<2.22",
        "tensorflow-model-optimization>=0.8.1",
        "tensorflow-datasets>=4.9",
        "ai-edge-litert>=2.3",
        "numpy",
        "click>=8",
        "scipy",
        "matplotlib",
        "pyyaml",
        "scikit-learn",
    ],
    extras_require={
        "torch": ["torch>=2.0,<2.14"],
        "dev": ["pytest>=8", "pytest-timeout", "pytest-xdist>=3.5", "import-linter>=2.17,<3"],
    },
    entry_points={
        "console_scripts": [
            "ofa-tf=ofa_tf_tools.ofa_tf_cli:main",
            "android-bench=ofa_tf_tools.android_bench_cli:main",
        ]
    },
)
