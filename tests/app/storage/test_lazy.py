from dataclasses import dataclass

from app.storage.lazy import computed_once


@dataclass(frozen=True)
class Box:
    value: int

    @computed_once
    def doubled(self) -> int:
        """Twice the value."""
        Box.calls += 1
        return self.value * 2


Box.calls = 0


def test_the_value_is_computed_on_first_read_only_and_kept_on_the_instance():
    box = Box(21)
    before = Box.calls

    assert box.doubled == 42 and box.doubled == 42
    assert Box.calls == before + 1
    assert box.__dict__["doubled"] == 42  # later reads are plain attribute reads


def test_each_instance_has_its_own_value_and_the_class_shows_the_descriptor():
    assert (Box(1).doubled, Box(2).doubled) == (2, 4)
    assert isinstance(Box.doubled, computed_once) and Box.doubled.__doc__ == "Twice the value."
