"""Tables, figures and the HTML report: pure functions of the tidy results table."""
