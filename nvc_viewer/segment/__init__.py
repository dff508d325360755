"""Automatic segmentation of the cerebellopontine angles (no napari, no deep learning).

One module per concern: `normalise` (intensity scale), `hessian` (scale-space Hessian and the
closed-form eigen-solver), `tubes` (vesselness), `masks` (brainstem, CSF, cisterns), `register`
(TOF alignment), `nerves` (the trackers of VII, VIII, V), `paths` (minimal paths through tube
strength), `meatus` (the internal acoustic meatus and the other porus targets), `roots` (a
traced root's centreline, radius, RDP and voxels), `identify` (naming the roots by anatomy),
`vessels` (arteries, veins), `landmarks` (RExP, RDP, TZ), `centreline` (paths), `refine` (the
surgeon's click), `scene` (the working state), `pipeline` (the stages). The public entry point is
`nvc_viewer.analysis.analyse`.
"""
