// The brand kit in Settings: the sample follows the form as it changes, before anything is
// saved; each colour swatch shows its hex code; links follow the primary colour until they
// are given one of their own (as the server does on save).
(function () {
  var form = document.querySelector('.brand-form'), sample = document.querySelector('.brand-sample');
  if (!form || !sample) return;
  var vars = {primary_color: '--b-primary', button_text_color: '--b-button-text', text_color: '--b-text',
              link_color: '--b-link', background_color: '--b-bg', content_background: '--b-content',
              font_family: '--b-font'};
  var primary = form.elements.primary_color, link = form.elements.link_color;
  var linkFollows = primary && link && primary.value.toLowerCase() === link.value.toLowerCase();

  function showHex(input) {
    var code = input.parentNode.querySelector('.hex');
    if (!code) {
      code = document.createElement('code');
      code.className = 'hex';
      input.insertAdjacentElement('afterend', code);
    }
    code.textContent = input.value;
  }
  Array.prototype.forEach.call(form.querySelectorAll('input[type=color]'), showHex);

  form.addEventListener('input', function (event) {
    var target = event.target, name = target.name;
    if (target.type === 'color') showHex(target);
    if (name === 'link_color') linkFollows = false;
    if (name === 'primary_color' && linkFollows) {
      link.value = target.value;
      showHex(link);
      sample.style.setProperty('--b-link', target.value);
    }
    if (vars[name]) sample.style.setProperty(vars[name], target.value);
    if (name === 'button_radius') sample.style.setProperty('--b-radius', (parseInt(target.value, 10) || 0) + 'px');
  });
})();
