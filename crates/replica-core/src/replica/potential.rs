//! The replica potential (Claim 1 of Gabrie et al. 2018):
//!
//! `Phi = sum_l (alpha~_{l-1}/2) [ A~_l (rho_{l-1} - V_l) - alpha_l A_l V~_l + F_l(A_l V_l) ]
//!        - I_0(A~_1) - sum_{l<L} alpha~_l I_h,l(A~_{l+1}, V~_l; rho~_l) - alpha~_L I_out(V~_L; rho~_L)`,
//!
//! evaluated at a stationary point; `H(T_L)/n_0` is its value at the selected point.

use super::chain::Chain;
use super::channel::Evals;
use super::error::ReplicaError;
use super::gauss::RuleSize;
use super::solve::OrderParams;

/// `Phi` at the order parameters `p` (which should be a stationary point).
pub fn phi(
    chain: &Chain,
    p: &OrderParams,
    rule: RuleSize,
    evals: &mut Evals,
) -> Result<f64, ReplicaError> {
    let n = chain.len();
    // the interface below layer l (l >= 1): its I_h carries A~_l rho_h / 2, which cancels
    // against A~_l rho_l / 2 here; both are ~1e16 per unit at nearly recovered layers, so the
    // cancellation is done analytically (see `InterfaceTerms`) and only rho_l - rho_h (zero
    // unless V~ > rho) is formed
    let mut total = 0.0;
    for l in 0..n {
        let layer = &chain.layers()[l];
        let gamma = p.a[l] * p.v[l];
        let f = layer.ensemble().f_at(layer.alpha(), gamma, p.theta[l]);
        let (excess_rho, i_h) = if l == 0 {
            (chain.rho(0), chain.prior().eval(p.a_t[0], rule).i0)
        } else {
            let t = chain.layers()[l - 1].channel().interface(
                p.a_t[l],
                p.v_t[l - 1],
                chain.rho_z(l - 1),
                rule,
                evals,
            );
            (chain.rho(l) - t.rho_h, t.i_h_centred)
        };
        total += 0.5
            * chain.alpha_tilde(l)
            * (p.a_t[l] * (excess_rho - p.v[l]) - layer.alpha() * p.a[l] * p.v_t[l] + f);
        total -= chain.alpha_tilde(l) * i_h;
    }
    let last = &chain.layers()[n - 1];
    total -= chain.alpha_tilde(n)
        * last
            .channel()
            .output(p.v_t[n - 1], chain.rho_z(n - 1), rule, evals)
            .i_out;
    if !total.is_finite() {
        return Err(ReplicaError::NonFinite(format!(
            "potential = {total} at {p:?}"
        )));
    }
    Ok(total)
}
