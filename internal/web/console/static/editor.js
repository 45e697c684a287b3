// editor.js makes the flow editors easier to use (flow.html, and the
// new-flow forms of pipes.html): a line-number gutter beside each textarea
// with a mark on each line that has a problem, problem links that put the
// caret where the problem is, and Tab that indents. The pages work without
// it: the server's source view shows the same problems under their lines.
// Everything it needs is in the page as data- attributes (the strict CSP
// allows no inline script or style). The editor whose text has problems is
// #definition, with its list in #flow-problems; a page has at most one.
(function () {
  'use strict';

  var areas = document.querySelectorAll('textarea.flow-definition');
  if (!areas.length) {
    return;
  }

  // jump puts the caret at a line and column of area and scrolls it into
  // view.
  function jump(area, line, col) {
    var off = offsetOf(area.value, line, col || 1);
    area.focus();
    area.setSelectionRange(off, off);
    var lh = parseFloat(getComputedStyle(area).lineHeight) || 19;
    var top = (line - 1) * lh;
    if (top < area.scrollTop || top + lh > area.scrollTop + area.clientHeight - lh) {
      area.scrollTop = Math.max(0, top - area.clientHeight / 3);
    }
  }

  // offsetOf is the place in text of a 1-based line and column; columns
  // count characters (code points), as the server's problems do.
  function offsetOf(text, line, col) {
    var lines = text.split('\n');
    line = Math.min(Math.max(line, 1), lines.length);
    var off = 0;
    for (var i = 0; i < line - 1; i++) {
      off += lines[i].length + 1;
    }
    var s = lines[line - 1];
    var j = 0;
    for (var c = 1; c < col && j < s.length; c++) {
      j += s.codePointAt(j) > 0xffff ? 2 : 1;
    }
    return off + j;
  }

  // jumpTo follows a problem link or a gutter mark: a gutter leads into
  // its own editor, a problem link into the one with problems.
  function jumpTo(target) {
    var gutter = target.closest('.gutter');
    var area = gutter ? gutter.nextElementSibling : document.getElementById('definition');
    if (area && area.tagName === 'TEXTAREA') {
      jump(area, parseInt(target.getAttribute('data-line'), 10), parseInt(target.getAttribute('data-col'), 10) || 1);
    }
  }

  // A problem link (in the list or under a line of the source view) and a
  // marked gutter line lead to the place in the editor. Enter on a link
  // is a click too.
  document.addEventListener('click', function (e) {
    var target = e.target.closest('a.problem-link[data-line], .gutter-mark');
    if (!target) {
      return;
    }
    e.preventDefault();
    jumpTo(target);
  });

  // Enter on a problem link jumps when the key comes up, not through the
  // link's click on key down: moving the focus to the textarea while the
  // key is down would let the same Enter type a new line there.
  var entered = null;
  document.addEventListener('keydown', function (e) {
    var a = e.key === 'Enter' && e.target.closest ? e.target.closest('a.problem-link[data-line]') : null;
    if (!a || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) {
      return;
    }
    e.preventDefault();
    entered = a;
  });
  document.addEventListener('keyup', function (e) {
    if (e.key !== 'Enter' || !entered) {
      return;
    }
    var a = entered;
    entered = null;
    jumpTo(a);
  });

  areas.forEach(enhance);

  // enhance gives one textarea its gutter, marks and Tab.
  function enhance(area) {
    // The problems by line, from the problem list the server rendered.
    var marks = {};
    var maxLine = 0;
    // (Only the editor with problems, #definition, has any.)
    var links = area.id === 'definition' ? document.querySelectorAll('#flow-problems a.problem-link[data-line]') : [];
    links.forEach(function (a) {
      var line = parseInt(a.getAttribute('data-line'), 10);
      if (!(line > 0)) {
        return;
      }
      var item = a.closest('li');
      var msg = item ? item.querySelector('.problem-message') : null;
      (marks[line] = marks[line] || []).push(msg ? msg.textContent.trim() : '');
      maxLine = Math.max(maxLine, line);
    });

    // The gutter: one row per line, as tall as a line of the textarea
    // (console.css gives both the same font and line height; the textarea
    // does not wrap lines). It is decoration for sighted users, hidden from
    // assistive technology: the problem list is the accessible way.
    var frame = document.createElement('div');
    frame.className = 'code-frame';
    var gutter = document.createElement('div');
    gutter.className = 'gutter';
    gutter.id = area.id + '-gutter';
    gutter.setAttribute('aria-hidden', 'true');
    area.parentNode.insertBefore(frame, area);
    frame.appendChild(gutter);
    frame.appendChild(area);
    area.classList.add('with-gutter');

    var shownLines = 0;
    function drawGutter() {
      var n = Math.max(area.value.split('\n').length, maxLine);
      if (n === shownLines) {
        return;
      }
      shownLines = n;
      var rows = document.createDocumentFragment();
      for (var i = 1; i <= n; i++) {
        var row = document.createElement('div');
        row.className = 'gutter-line';
        row.setAttribute('data-line', String(i));
        if (marks[i]) {
          row.className += ' gutter-mark';
          row.title = 'Line ' + i + ': ' + marks[i].join(' · ');
          var flag = document.createElement('span');
          flag.className = 'gutter-flag';
          flag.textContent = '!';
          row.appendChild(flag);
        }
        row.appendChild(document.createTextNode(String(i)));
        rows.appendChild(row);
      }
      // Room below the last number, so the gutter can scroll as far as the
      // textarea (whose own scroll bar takes height).
      var end = document.createElement('div');
      end.className = 'gutter-end';
      rows.appendChild(end);
      gutter.replaceChildren(rows);
      gutter.scrollTop = area.scrollTop;
    }
    drawGutter();
    area.addEventListener('input', drawGutter);
    area.addEventListener('scroll', function () {
      gutter.scrollTop = area.scrollTop;
    });

    // Tab indents by two spaces (YAML), Shift+Tab leaves as usual. So that
    // keyboard users are not trapped, Escape and then Tab leaves too; the
    // hint under the editor says so.
    var escaped = false;
    area.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') {
        escaped = true;
        return;
      }
      if (e.key === 'Tab' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !escaped) {
        e.preventDefault();
        indent();
        return;
      }
      if (e.key !== 'Shift') {
        escaped = false;
      }
    });
    area.addEventListener('blur', function () {
      escaped = false;
    });
    var form = area.closest('form');
    var keys = form ? form.querySelector('.editor-keys') : null;
    if (keys) {
      keys.hidden = false;
      var described = area.getAttribute('aria-describedby');
      area.setAttribute('aria-describedby', (described ? described + ' ' : '') + keys.id);
    }

    // indent inserts two spaces at the caret, or before every line of a
    // selection across lines.
    function indent() {
      var v = area.value;
      var s = area.selectionStart;
      var e = area.selectionEnd;
      if (v.slice(s, e).indexOf('\n') < 0) {
        replace(s, e, '  ', s + 2, s + 2);
        return;
      }
      var start = v.lastIndexOf('\n', s - 1) + 1;
      var end = v.charAt(e - 1) === '\n' ? e - 1 : e;
      var block = v.slice(start, end).split('\n').map(function (l) { return '  ' + l; }).join('\n');
      replace(start, end, block, start, start + block.length);
    }

    // replace puts text in place of start..end and selects from..to. It
    // goes through the browser's editing commands where they exist, so Undo
    // undoes it.
    function replace(start, end, text, from, to) {
      area.setSelectionRange(start, end);
      var done = false;
      try {
        done = document.execCommand('insertText', false, text);
      } catch (err) {
        done = false;
      }
      if (!done) {
        area.setRangeText(text, start, end, 'end');
        area.dispatchEvent(new Event('input', { bubbles: true }));
      }
      area.setSelectionRange(from, to);
    }
  }
})();
