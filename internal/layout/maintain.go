package layout

// MaintainLease is the lease a local process holds while it maintains the
// lake's Iceberg tables (`lake maintain`, the scheduled maintenance of
// `lake serve`), so that two maintenance runs never overlap.
const MaintainLease = MetaPrefix + "maintain/lease.json"
