import healpy as hp, numpy as np, json
from astropy.io import fits
rng = np.random.default_rng(170817)
out = {"generator": "healpy %s, numpy %s; script in astro/testdata/README.md" % (hp.__version__, np.__version__), "pix2ang": [], "ang2pix": []}
for nside in [1, 2, 4, 16, 128, 1024, 32768]:
    npix = 12*nside*nside
    pix = sorted(set([0, npix-1, npix//2, npix//3] + [int(x) for x in rng.integers(0, npix, 12)]))
    th, ph = hp.pix2ang(nside, pix, nest=True)
    for p, t, f in zip(pix, th, ph):
        out["pix2ang"].append([nside, int(p), float(t), float(f)])
pts = [(0.0, 90.0), (0.0, -90.0), (197.450371, -23.381486), (359.9999, 0.0), (45.0, 41.81), (180.0, -41.82), (10.0, 89.999)]
pts += [(float(r), float(d)) for r, d in zip(rng.uniform(0, 360, 30), np.degrees(np.arcsin(rng.uniform(-1, 1, 30))))]
for nside in [1, 8, 128, 1024, 32768]:
    for ra, dec in pts:
        out["ang2pix"].append([nside, ra, dec, int(hp.ang2pix(nside, ra, dec, lonlat=True, nest=True))])
# bayestar map numbers
f = "../shared/data/gw170817/skymap/bayestar_2017_G298107.flat.fits.gz"
t = fits.getdata(f, 1)
prob = np.asarray(t["PROB"], dtype=float)
nside = 128
i = np.argsort(prob)[::-1]
cum = np.cumsum(prob[i]); level = np.empty_like(cum); level[i] = cum
area = hp.nside2pixarea(nside, degrees=True)
ngc = hp.ang2pix(nside, 197.4503, -23.3815, lonlat=True, nest=True)
mx = int(np.argmax(prob)); mra, mdec = hp.pix2ang(nside, mx, nest=True, lonlat=True)
out["bayestar"] = {
  "file": "bayestar_2017_G298107.flat.fits.gz", "nside": nside,
  "sum": float(prob.sum()), "area50_deg2": float((level <= 0.5).sum()*area), "area90_deg2": float((level <= 0.9).sum()*area),
  "max_pixel": mx, "max_ra": float(mra), "max_dec": float(mdec),
  "ngc4993_pixel": int(ngc), "ngc4993_prob": float(prob[ngc]), "ngc4993_density_deg2": float(prob[ngc]/area), "ngc4993_level": float(level[ngc]),
  "ngc4993_distmu": float(t["DISTMU"][ngc]), "ngc4993_distsigma": float(t["DISTSIGMA"][ngc]),
}
json.dump(out, open("astro/testdata/healpy_expected.json", "w"), indent=0)
print(out["bayestar"], len(out["pix2ang"]), len(out["ang2pix"]))
