"""Each site's part of the starter job: logistic regression with numpy on a synthetic tabular
data set the site makes from its own name (so sites differ, and nothing is downloaded).
Replace make_data() with your site's real data loader."""

import hashlib

import numpy as np
import nvflare.client as flare

FEATURES, ROWS, EPOCHS, LEARNING_RATE = 8, 400, 20, 0.5
TRUE_WEIGHTS = np.linspace(-2.0, 2.0, FEATURES)  # the pattern every site's data shares


def make_data(site: str) -> tuple[np.ndarray, np.ndarray]:
    seed = int(hashlib.sha256(site.encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=rng.normal(0, 0.5), size=(ROWS, FEATURES))  # each site's own shift
    y = (x @ TRUE_WEIGHTS + rng.normal(0, 0.5, ROWS) > 0).astype(float)
    return x, y


def predict(model: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ model[:-1] + model[-1])))


def main() -> None:
    flare.init()
    site = flare.get_site_name()
    x, y = make_data(site)
    train, valid = slice(0, ROWS * 3 // 4), slice(ROWS * 3 // 4, ROWS)
    while flare.is_running():
        received = flare.receive()
        model = np.asarray(received.params["numpy_key"], dtype=float)
        accuracy = float(((predict(model, x[valid]) > 0.5) == y[valid]).mean())  # the global model on local data
        for _ in range(EPOCHS):
            error = predict(model, x[train]) - y[train]
            gradient = np.append(x[train].T @ error, error.sum()) / len(error)
            model = model - LEARNING_RATE * gradient
        print(f"{site} round {received.current_round}: global model accuracy {accuracy:.3f} on local validation data")
        flare.send(
            flare.FLModel(params={"numpy_key": model}, metrics={"accuracy": accuracy}, meta={"NUM_STEPS_CURRENT_ROUND": ROWS * 3 // 4})
        )


if __name__ == "__main__":
    main()
