// The brand kit sample in Settings follows the form as it changes, before anything is saved.
(function () {
  var form = document.querySelector('.brand-form'), sample = document.querySelector('.brand-sample');
  var vars = {primary_color: '--b-primary', button_text_color: '--b-button-text', text_color: '--b-text', link_color: '--b-link',
              background_color: '--b-bg', content_background: '--b-content', font_family: '--b-font'};
  form.addEventListener('input', function (event) {
    var name = event.target.name;
    if (vars[name]) sample.style.setProperty(vars[name], event.target.value);
    if (name === 'button_radius') sample.style.setProperty('--b-radius', (parseInt(event.target.value, 10) || 0) + 'px');
  });
})();
