"""The mutants of tools/mutants.py: one semantic break (or more) of each formula the
library implements, as an exact text replacement in one module of src/unsupervised.

Kinds of break, as a reader's or a maintainer's slip would make them: a factor (1/2, 2), a
sign, an exponent, a dropped term, swapped arguments, N for N - 1, sigma for sigma^2, mean
for sum. `old` must occur exactly once in the module (tests/test_structure.py checks it, so
this list follows the code). Formulas without a mutant are definitions or results that no
library function computes (see `no_code` in book/formulas.yml).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

CHAPTERS = {
    "SC": "01_sparse_coding",
    "AE": "02_autoencoders",
    "DE": "03_density_estimation",
    "VA": "04_vae",
    "GA": "05_gan",
}

# The library tests of each module (they must kill every mutant of the module).
TESTS = {
    "sparse_coding.py": ["tests/test_sparse_coding.py", "tests/test_lasso.py"],
    "_lars.py": ["tests/test_lars.py", "tests/test_lasso.py"],
    "_dictionary.py": ["tests/test_online_dictionary.py"],
    "autoencoders.py": ["tests/test_autoencoders.py"],
    "density.py": ["tests/test_density.py"],
    "datasets.py": ["tests/test_datasets.py"],
    "vae.py": ["tests/test_vae.py"],
    "divergences.py": ["tests/test_divergences.py"],
    "gan.py": ["tests/test_gan.py"],
}


@dataclass(frozen=True)
class Mutant:
    formula: str  # formula ID (book/formulas.yml)
    module: str  # file in src/unsupervised
    old: str  # text that occurs exactly once in the module
    new: str
    what: str  # the break, in words

    @property
    def name(self) -> str:
        return f"{self.formula}-{zlib.crc32((self.old + self.new).encode()) % 1000:03d}"


MUTANTS = [
    # --- sparse coding ------------------------------------------------------------------
    Mutant(
        "SC2",
        "sparse_coding.py",
        "return float(np.sum(R * R) + eta * np.sum(_RHO[penalty](Z)))",
        "return float(np.sum(R * R) + 0.5 * eta * np.sum(_RHO[penalty](Z)))",
        "objective: the penalty weighted eta/2 instead of eta",
    ),
    Mutant(
        "SC3",
        "sparse_coding.py",
        "return np.abs(Z).sum(axis=-1)",
        "return Z.sum(axis=-1)",
        "l1 penalty: |z_i| replaced by z_i (dropped absolute value)",
    ),
    Mutant(
        "SC3",
        "sparse_coding.py",
        "np.sign(v) * np.maximum(np.abs(v) - t, 0.0)",
        "np.sign(v) * np.maximum(np.abs(v) - 0.5 * t, 0.0)",
        "soft threshold at t/2 instead of t (the prox of (1/2)|u|)",
    ),
    Mutant(
        "SC4",
        "sparse_coding.py",
        "return np.log1p(Z * Z).sum(axis=-1)",
        "return np.log1p(np.abs(Z)).sum(axis=-1)",
        "log penalty: log(1 + |z|) for log(1 + z^2)",
    ),
    Mutant(
        "SC4",
        "sparse_coding.py",
        "return 2.0 * Z / (1.0 + Z * Z)",
        "return Z / (1.0 + Z * Z)",
        "gradient of the log penalty: factor 2 dropped",
    ),
    Mutant(
        "SC5",
        "sparse_coding.py",
        "return -np.exp(-Z * Z).sum(axis=-1)",
        "return np.exp(-Z * Z).sum(axis=-1)",
        "exp penalty: sign flipped",
    ),
    Mutant(
        "SC5",
        "sparse_coding.py",
        "return 2.0 * Z * np.exp(-Z * Z)",
        "return 2.0 * Z * np.exp(-2.0 * Z * Z)",
        "gradient of the exp penalty: exponent doubled",
    ),
    Mutant(
        "SC6",
        "sparse_coding.py",
        "return 2.0 * float(np.linalg.norm(A, 2)) ** 2",
        "return 2.0 * float(np.linalg.norm(A, 2))",
        "Lipschitz constant 2||A|| instead of 2||A||^2",
    ),
    Mutant(
        "SC6",
        "sparse_coding.py",
        "L = _lipschitz_constant(A)",
        "L = 0.8 * _lipschitz_constant(A)",
        "ISTA/FISTA step 1.25 / L instead of 1 / L",
    ),
    Mutant(
        "SC6",
        "sparse_coding.py",
        "return eta / 2.0",
        "return eta",
        "sklearn's alpha = eta instead of eta/2",
    ),
    Mutant(
        "SC6",
        "_lars.py",
        "_lars_rows(G, B, 0.5 * eta, tol, max_steps, kmax, Z, ok)",
        "_lars_rows(G, B, eta, tol, max_steps, kmax, Z, ok)",
        "LARS homotopy stopped at lambda = eta instead of eta / 2 (the codes of another SC6)",
    ),
    Mutant(
        "SC7",
        "_dictionary.py",
        "u[i] = At[j, i] + u[i] / hjj",
        "u[i] = u[i] / hjj",
        "online dictionary step: the current atom left out of its own minimiser",
    ),
    Mutant(
        "SC7",
        "sparse_coding.py",
        "H[np.diag_indices_from(H)] += 0.5 * lam",
        "H[np.diag_indices_from(H)] += lam",
        "dictionary update: ridge lam instead of lam/2",
    ),
    # --- autoencoders -------------------------------------------------------------------
    Mutant(
        "AE2",
        "autoencoders.py",
        "return ((x - x_hat) ** 2).sum(dim=1).mean()",
        "return ((x - x_hat) ** 2).mean()",
        "reconstruction loss averaged over the d pixels too",
    ),
    Mutant(
        "AE3",
        "autoencoders.py",
        "return sum((w * w).sum() for w in self.weights())",
        "return sum(w.abs().sum() for w in self.weights())",
        "weight decay ||W||_1 for ||W||^2",
    ),
    Mutant(
        "AE4",
        "autoencoders.py",
        "return z.mean(dim=0)",
        "return z.mean(dim=0) ** 2",
        "average activation squared",
    ),
    Mutant(
        "AE5",
        "autoencoders.py",
        "kl = r * (math.log(r) - torch.log(q)) + (1 - r) * (math.log1p(-r) - torch.log1p(-q))",
        "kl = r * (math.log(r) - torch.log(q))",
        "Bernoulli KL: the (1 - rho*) term dropped",
    ),
    Mutant(
        "AE6",
        "autoencoders.py",
        "return _bernoulli_kl(r, rho_hat).sum() + tangent.sum()",
        "return _bernoulli_kl(r, rho_hat).mean() + tangent.mean()",
        "sparsity penalty: mean over units for sum",
    ),
    Mutant(
        "AE6",
        "autoencoders.py",
        "tangent = (rho_hat - r) / (rho_hat * (1 - rho_hat)) * (mean - rho_hat)",
        "tangent = 0.0 * (mean - rho_hat)",
        "the floor's tangent continuation dropped (a plain clamp)",
    ),
    Mutant(
        "AE7",
        "autoencoders.py",
        "keep = u >= mu",
        "keep = u >= 1 - mu",
        "masking noise drops 1 - mu instead of mu",
    ),
    Mutant(
        "AE7",
        "autoencoders.py",
        "return _reconstruction_loss(x, model.decoder(model.encoder(x_tilde)))",
        "return _reconstruction_loss(x_tilde, model.decoder(model.encoder(x_tilde)))",
        "denoising loss reconstructs the corrupted input, not the clean one",
    ),
    # --- density estimation -------------------------------------------------------------
    Mutant(
        "DE1",
        "density.py",
        "return -0.5 * (d * np.log(2.0 * np.pi) + log_det + np.sum(z * z, axis=0))",
        "return -0.5 * (d * np.log(2.0 * np.pi) + 0.5 * log_det + np.sum(z * z, axis=0))",
        "Gaussian log density: log det halved (sigma for sigma^2)",
    ),
    Mutant(
        "DE2",
        "density.py",
        "cov = np.swapaxes(centred, -1, -2) @ centred / X.shape[-2]",
        "cov = np.swapaxes(centred, -1, -2) @ centred / (X.shape[-2] - 1)",
        "MLE covariance divided by N - 1",
    ),
    Mutant(
        "DE2",
        "datasets.py",
        "(X[labels == k] - means[k]).T @ (X[labels == k] - means[k]) / counts[k]",
        "(X[labels == k] - means[k]).T @ (X[labels == k] - means[k]) / (counts[k] - 1)",
        "class-wise MLE (GaussianMixture.fit_by_class) covariance divided by N_k - 1",
    ),
    Mutant(
        "DE4",
        "density.py",
        "xlog1py(n - k, -p)",
        "xlog1py(1 - k, -p)",
        "binomial exponent 1 - K (the source's misprint)",
    ),
    Mutant(
        "DE6",
        "density.py",
        "return log_k - np.log(self.n_samples_) - self.n_features_in_ * np.log(self.bin_width)",
        "return log_k - np.log(self.n_samples_) - np.log(self.bin_width)",
        "histogram: V = h instead of h^d",
    ),
    Mutant(
        "DE7",
        "density.py",
        "return np.all(np.abs(u) < 0.5, axis=-1).astype(np.float64)",
        "return np.all(np.abs(u) < 1.0, axis=-1).astype(np.float64)",
        "hypercube kernel of side 2 instead of 1",
    ),
    Mutant(
        "DE8",
        "density.py",
        "radius = np.nextafter(self.h / 2.0, 0.0)",
        "radius = np.nextafter(self.h, 0.0)",
        "window counts in a cube of side 2h",
    ),
    Mutant(
        "DE9",
        "density.py",
        "return log_k - np.log(self.n_samples_) - self.n_features_in_ * np.log(self.h)",
        "return log_k - np.log(self.n_samples_) - np.log(self.h)",
        "Parzen: h for h^d",
    ),
    Mutant(
        "DE10",
        "density.py",
        "return np.log(self.k) - np.log(self.n_samples_) - log_volume",
        "return np.log(self.k + 1) - np.log(self.n_samples_) - log_volume",
        "kNN: K + 1 for K",
    ),
    # --- VAE ----------------------------------------------------------------------------
    Mutant(
        "VA1",
        "vae.py",
        "self._log_likelihood(x, z) + _log_standard_normal(z)",
        "self._log_likelihood(x, z) - _log_standard_normal(z)",
        "log joint: log p(z) subtracted",
    ),
    Mutant(
        "VA2",
        "vae.py",
        "m, S_sum = m.detach(), S_n.detach().sum(0)",
        "m, S_sum = m.detach(), S_n.detach().mean(0)",
        "variational M-step: sum of the q covariances divided by N",
    ),
    Mutant(
        "VA2",
        "vae.py",
        "sigma2 = resid / (N * d)",
        "sigma2 = resid / (N * d - 1)",
        "EM M-step: sigma^2 divided by Nd - 1",
    ),
    Mutant(
        "VA3",
        "vae.py",
        "value = reconstruction - kl",
        "value = reconstruction - 2 * kl",
        "ELBO: the KL term weighted 2",
    ),
    Mutant(
        "VA4",
        "vae.py",
        "cov = self.sigma2 * torch.cholesky_inverse(L)",
        "cov = torch.cholesky_inverse(L)",
        "posterior covariance without sigma^2",
    ),
    Mutant(
        "VA7",
        "vae.py",
        "return self.mean(h), F.softplus(self.std(h))",
        "return self.mean(h), F.softplus(self.std(h)) ** 2",
        "inference network returns sigma^2 where sigma is meant",
    ),
    Mutant(
        "VA13",
        "vae.py",
        "reconstruction = self.decoder._log_prob(x, z).mean(0)",
        "reconstruction = self.decoder._log_prob(x, z).sum(0)",
        "reconstruction term: sum over the M samples for the mean",
    ),
    Mutant(
        "VA17",
        "vae.py",
        "return 0.5 * (sigma * sigma + mu * mu - 1.0 - 2.0 * torch.log(sigma)).sum(-1)",
        "return 0.5 * (sigma * sigma + mu * mu - 1.0 - torch.log(sigma)).sum(-1)",
        "KL to N(0, I): log sigma for log sigma^2",
    ),
    Mutant(
        "VA18",
        "vae.py",
        "return mu + sigma * eps",
        "return mu + sigma * sigma * eps",
        "reparameterisation with sigma^2",
    ),
    Mutant(
        "VA19",
        "vae.py",
        "return (x * a - F.softplus(a)).sum(-1)",
        "return (x * a + F.softplus(a)).sum(-1)",
        "Bernoulli log-likelihood: sign of softplus",
    ),
    Mutant(
        "VA19",
        "vae.py",
        "+ self.n_features * math.log(2.0 * math.pi * self.sigma2)\n",
        "+ self.n_features * math.log(2.0 * math.pi)\n",
        "Gaussian log-likelihood: log sigma^2 dropped",
    ),
    Mutant(
        "VA16",
        "divergences.py",
        "kl = 0.5 * (trace + quad - k + log_det2 - log_det1)",
        "kl = 0.5 * (trace + quad - k + log_det1 - log_det2)",
        "Gaussian KL: log-determinants swapped",
    ),
    # --- GAN ----------------------------------------------------------------------------
    Mutant(
        "GA1",
        "gan.py",
        "return self.net(x.reshape(-1, self.data_dim * self.packing)).squeeze(-1)",
        "return torch.sigmoid(self.net(x.reshape(-1, self.data_dim * self.packing)).squeeze(-1))",
        "discriminator returns D = sigmoid(a) where the logit a is meant",
    ),
    Mutant(
        "GA2",
        "gan.py",
        "return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()",
        "return F.softplus(d_real).mean() + F.softplus(d_fake).mean()",
        "discriminator loss: real samples labelled 0",
    ),
    Mutant(
        "GA3",
        "gan.py",
        "        return F.softplus(-d_fake).mean()\n",
        "        return F.softplus(d_fake).mean()\n",
        "non-saturating generator loss: -log(1 - D) for -log D",
    ),
    Mutant(
        "GA4",
        "gan.py",
        "fake = np.where(p_theta > 0, p_theta * log_1md, 0.0).sum()",
        "fake = np.where(p_theta > 0, p_r * log_1md, 0.0).sum()",
        "value function: the second expectation under p_r",
    ),
    Mutant(
        "GA5",
        "gan.py",
        "return np.where(total > 0, p_r / np.where(total > 0, total, 1.0), 0.5)",
        "return np.where(total > 0, p_theta / np.where(total > 0, total, 1.0), 0.5)",
        "optimal discriminator p_theta / (p_r + p_theta)",
    ),
    Mutant(
        "GA7",
        "divergences.py",
        "return 0.5 * _kl(p, m, dx) + 0.5 * _kl(q, m, dx)",
        "return _kl(p, m, dx) + _kl(q, m, dx)",
        "JS without the factors 1/2",
    ),
    Mutant(
        "GA8",
        "divergences.py",
        "return float(rel_entr(p, q).sum() * dx)",
        "return float(rel_entr(q, p).sum() * dx)",
        "KL with its arguments swapped",
    ),
    Mutant(
        "GA11",
        "gan.py",
        "nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),",
        "nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, bias=False),",
        "DCGAN generator: kernel 3 in the up-sampling layers",
    ),
]
